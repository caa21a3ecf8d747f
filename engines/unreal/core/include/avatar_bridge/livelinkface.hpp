// Decoder for Live Link Face (legacy "Live Link (ARKit)") UDP packets, version 6, big-endian.
// Layout: ../shared/reference/protocols.md section 2; the bridge's --livelinkface output sends these.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace avatar_bridge::livelinkface {

constexpr std::uint8_t kPacketVersion = 6;
constexpr std::size_t kValueCount = 61;
// Unreal's receive buffer holds 512 TCHARs of names; longer names could never reach it.
constexpr std::size_t kMaxNameBytes = 512;
constexpr std::size_t kFixedBytes = 1 + 4 + 4 + 16 + 1 + kValueCount * 4;  // 270, empty names

enum class DecodeError {
    kNone,
    kTruncated,
    kTooLarge,
    kBadVersion,
    kBadName,
    kBadCount,
    kTrailingBytes,
    kNonFiniteValue,
    kBadFrameRate,
    kValueOutOfRange,
};

const char* to_string(DecodeError error);

// EARFaceBlendShape order: the 52 ARKit curves then head and eye yaw/pitch/roll.
extern const std::array<std::string_view, kValueCount> kValueNames;

struct Packet {
    std::string device_id;
    std::string subject;
    std::int32_t frame_number = 0;
    float subframe = 0.0f;
    std::int32_t rate_numerator = 0;
    std::int32_t rate_denominator = 0;
    std::array<float, kValueCount> values{};
};

DecodeError decode(const std::uint8_t* data, std::size_t size, Packet& out);

}  // namespace avatar_bridge::livelinkface
