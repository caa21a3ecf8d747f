// Decoding of the bridge's own OSC messages, /avatar/v1/names and /avatar/v1/frame (schemas/README.md).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "avatar_bridge/osc.hpp"

namespace avatar_bridge {

constexpr std::string_view kNamesAddress = "/avatar/v1/names";
constexpr std::string_view kFrameAddress = "/avatar/v1/frame";
// Generous bound on announced channels (schema v1 sends 76) so a hostile packet cannot grow state.
constexpr std::size_t kMaxChannels = 256;
constexpr std::size_t kMaxNameBytes = 64;
// No channel the bridge sends (weights 0..1, joints in radians, EMA in mm) comes near this; a larger
// finite value (1e30 rad) would give the rig NaN rotations. It bounds the voice and the channel values,
// as in the Python decoders; those also bound the stream time, which this core does not need (the
// plugin stamps frames with their arrival time).
constexpr float kMaxChannelAbs = 1000.0f;

enum class DecodeError {
    kNone,
    kWrongAddress,
    kBadTypeTags,
    kBadSubject,
    kBadName,
    kDuplicateName,
    kTooManyChannels,
    kNonFiniteValue,
    kBadViseme,
    kValueOutOfRange,
};

const char* to_string(DecodeError error);

struct NamesMessage {
    std::string subject;
    std::vector<std::string> names;
};

struct FrameMessage {
    std::string subject;
    std::int32_t seq = 0;
    float t_s = 0.0f;
    std::string viseme;
    float voice = 0.0f;
    std::vector<float> values;
};

DecodeError decode_names(const osc::Message& message, NamesMessage& out);
DecodeError decode_frame(const osc::Message& message, FrameMessage& out);

// True when `text` is well-formed UTF-8 (no overlongs, no surrogates, no NUL).
bool is_valid_utf8(std::string_view text);

}  // namespace avatar_bridge
