#include "avatar_bridge/livelinkface.hpp"
#include "avatar_bridge/protocol.hpp"

#include <cmath>
#include <cstring>

namespace avatar_bridge::livelinkface {
namespace {

std::uint32_t read_u32(const std::uint8_t* p) {
    return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) |
           std::uint32_t{p[3]};
}

float read_f32(const std::uint8_t* p) {
    const std::uint32_t bits = read_u32(p);
    float value = 0.0f;
    std::memcpy(&value, &bits, sizeof value);
    return value;
}

// Unreal's FNboSerialize string: int32 BE length then that many UTF-8 bytes, no NUL.
DecodeError read_name(const std::uint8_t* data, std::size_t size, std::size_t& pos, std::string& out) {
    if (size - pos < 4) return DecodeError::kTruncated;
    const auto length = static_cast<std::int32_t>(read_u32(data + pos));
    pos += 4;
    if (length < 0 || static_cast<std::size_t>(length) > kMaxNameBytes) return DecodeError::kBadName;
    const auto n = static_cast<std::size_t>(length);
    if (size - pos < n) return DecodeError::kTruncated;
    out.assign(reinterpret_cast<const char*>(data + pos), n);
    pos += n;
    return DecodeError::kNone;
}

}  // namespace

const std::array<std::string_view, kValueCount> kValueNames = {
    "EyeBlinkLeft", "EyeLookDownLeft", "EyeLookInLeft", "EyeLookOutLeft", "EyeLookUpLeft",
    "EyeSquintLeft", "EyeWideLeft", "EyeBlinkRight", "EyeLookDownRight", "EyeLookInRight",
    "EyeLookOutRight", "EyeLookUpRight", "EyeSquintRight", "EyeWideRight", "JawForward",
    "JawLeft", "JawRight", "JawOpen", "MouthClose", "MouthFunnel", "MouthPucker", "MouthLeft",
    "MouthRight", "MouthSmileLeft", "MouthSmileRight", "MouthFrownLeft", "MouthFrownRight",
    "MouthDimpleLeft", "MouthDimpleRight", "MouthStretchLeft", "MouthStretchRight",
    "MouthRollLower", "MouthRollUpper", "MouthShrugLower", "MouthShrugUpper", "MouthPressLeft",
    "MouthPressRight", "MouthLowerDownLeft", "MouthLowerDownRight", "MouthUpperUpLeft",
    "MouthUpperUpRight", "BrowDownLeft", "BrowDownRight", "BrowInnerUp", "BrowOuterUpLeft",
    "BrowOuterUpRight", "CheekPuff", "CheekSquintLeft", "CheekSquintRight", "NoseSneerLeft",
    "NoseSneerRight", "TongueOut", "HeadYaw", "HeadPitch", "HeadRoll", "LeftEyeYaw",
    "LeftEyePitch", "LeftEyeRoll", "RightEyeYaw", "RightEyePitch", "RightEyeRoll",
};

const char* to_string(DecodeError error) {
    switch (error) {
        case DecodeError::kNone: return "ok";
        case DecodeError::kTruncated: return "truncated";
        case DecodeError::kTooLarge: return "packet too large";
        case DecodeError::kBadVersion: return "packet version is not 6";
        case DecodeError::kBadName: return "bad device id or subject length";
        case DecodeError::kBadCount: return "blendshape count is not 61";
        case DecodeError::kTrailingBytes: return "bytes after the last value";
        case DecodeError::kNonFiniteValue: return "NaN or infinite value";
        case DecodeError::kBadFrameRate: return "frame rate is not positive";
        case DecodeError::kValueOutOfRange: return "value beyond +-1000";
    }
    return "unknown";
}

DecodeError decode(const std::uint8_t* data, std::size_t size, Packet& out) {
    if (data == nullptr || size < kFixedBytes) return DecodeError::kTruncated;
    if (size > kFixedBytes + 2 * kMaxNameBytes) return DecodeError::kTooLarge;
    if (data[0] != kPacketVersion) return DecodeError::kBadVersion;
    std::size_t pos = 1;
    Packet packet;
    if (const DecodeError e = read_name(data, size, pos, packet.device_id); e != DecodeError::kNone) return e;
    if (const DecodeError e = read_name(data, size, pos, packet.subject); e != DecodeError::kNone) return e;
    if (size - pos < 17) return DecodeError::kTruncated;
    packet.frame_number = static_cast<std::int32_t>(read_u32(data + pos));
    packet.subframe = read_f32(data + pos + 4);
    packet.rate_numerator = static_cast<std::int32_t>(read_u32(data + pos + 8));
    packet.rate_denominator = static_cast<std::int32_t>(read_u32(data + pos + 12));
    const std::uint8_t count = data[pos + 16];
    pos += 17;
    // Frame times divide by the rate; the Python decoder rejects the same packets.
    if (packet.rate_numerator <= 0 || packet.rate_denominator <= 0) return DecodeError::kBadFrameRate;
    if (count != kValueCount) return DecodeError::kBadCount;
    if (size - pos < kValueCount * 4) return DecodeError::kTruncated;
    if (size - pos > kValueCount * 4) return DecodeError::kTrailingBytes;
    for (std::size_t i = 0; i < kValueCount; ++i) {
        packet.values[i] = read_f32(data + pos + 4 * i);
        if (!std::isfinite(packet.values[i])) return DecodeError::kNonFiniteValue;
        // As for the avatar protocol (protocol.hpp): finite but absurd values would break the rig's rotations.
        if (std::fabs(packet.values[i]) > kMaxChannelAbs) return DecodeError::kValueOutOfRange;
    }
    if (!std::isfinite(packet.subframe)) return DecodeError::kNonFiniteValue;
    out = std::move(packet);
    return DecodeError::kNone;
}

}  // namespace avatar_bridge::livelinkface
