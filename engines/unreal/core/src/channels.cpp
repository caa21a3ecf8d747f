#include "avatar_bridge/channels.hpp"

#include <algorithm>
#include <cctype>

namespace avatar_bridge {

const std::array<std::string_view, kArkitCount> kArkitNames = {
    "eyeBlinkLeft", "eyeLookDownLeft", "eyeLookInLeft", "eyeLookOutLeft", "eyeLookUpLeft",
    "eyeSquintLeft", "eyeWideLeft", "eyeBlinkRight", "eyeLookDownRight", "eyeLookInRight",
    "eyeLookOutRight", "eyeLookUpRight", "eyeSquintRight", "eyeWideRight", "jawForward",
    "jawLeft", "jawRight", "jawOpen", "mouthClose", "mouthFunnel", "mouthPucker", "mouthLeft",
    "mouthRight", "mouthSmileLeft", "mouthSmileRight", "mouthFrownLeft", "mouthFrownRight",
    "mouthDimpleLeft", "mouthDimpleRight", "mouthStretchLeft", "mouthStretchRight",
    "mouthRollLower", "mouthRollUpper", "mouthShrugLower", "mouthShrugUpper", "mouthPressLeft",
    "mouthPressRight", "mouthLowerDownLeft", "mouthLowerDownRight", "mouthUpperUpLeft",
    "mouthUpperUpRight", "browDownLeft", "browDownRight", "browInnerUp", "browOuterUpLeft",
    "browOuterUpRight", "cheekPuff", "cheekSquintLeft", "cheekSquintRight", "noseSneerLeft",
    "noseSneerRight", "tongueOut",
};

const std::array<std::string_view, kJointCount> kJointNames = {
    "jaw_open_rad", "head_yaw_rad", "head_pitch_rad", "head_roll_rad",
    "eye_left_yaw_rad", "eye_left_pitch_rad", "eye_right_yaw_rad", "eye_right_pitch_rad",
    "tongue_tip_up", "tongue_body_up", "tongue_front", "breath",
};

const std::array<std::string_view, kEmaCount> kEmaChannelNames = {
    "ema_li_x", "ema_li_y", "ema_ul_x", "ema_ul_y", "ema_ll_x", "ema_ll_y",
    "ema_tt_x", "ema_tt_y", "ema_tb_x", "ema_tb_y", "ema_td_x", "ema_td_y",
};

std::vector<std::string> default_channel_names() {
    std::vector<std::string> names;
    names.reserve(kDefaultChannelCount);
    for (const auto n : kArkitNames) names.emplace_back(n);
    for (const auto n : kJointNames) names.emplace_back(n);
    for (const auto n : kEmaChannelNames) names.emplace_back(n);
    return names;
}

std::string curve_name_for_channel(std::string_view channel) {
    std::string name(channel);
    if (std::find(kArkitNames.begin(), kArkitNames.end(), channel) != kArkitNames.end()) {
        name[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(name[0])));
    }
    return name;
}

}  // namespace avatar_bridge
