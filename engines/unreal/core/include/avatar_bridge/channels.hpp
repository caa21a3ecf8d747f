// Channel names of schema v1 (mirror of bridge/frames.py and schemas/README.md).
#pragma once

#include <array>
#include <string>
#include <string_view>
#include <vector>

namespace avatar_bridge {

constexpr std::size_t kArkitCount = 52;
constexpr std::size_t kJointCount = 12;
constexpr std::size_t kEmaCount = 12;
constexpr std::size_t kDefaultChannelCount = kArkitCount + kJointCount + kEmaCount;

// Apple ARKit names, lowerCamelCase, in Apple/Unreal EARFaceBlendShape order 0..51.
extern const std::array<std::string_view, kArkitCount> kArkitNames;
// Joint channels: radians; tongue channels -1..1; breath 0..1.
extern const std::array<std::string_view, kJointCount> kJointNames;
// EMA channel names as announced over OSC (prefixed "ema_").
extern const std::array<std::string_view, kEmaCount> kEmaChannelNames;

// The order a receiver uses before it has seen a /avatar/v1/names announcement.
std::vector<std::string> default_channel_names();

// "jawOpen" -> "JawOpen" for ARKit names (Unreal/Live Link Face spelling); other names unchanged.
std::string curve_name_for_channel(std::string_view channel);

}  // namespace avatar_bridge
