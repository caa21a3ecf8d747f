// OSC 1.0 packet parsing with strict bounds checks. Host-free: no Unreal headers, no exceptions.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

namespace avatar_bridge::osc {

// Largest UDP payload over IPv4; anything bigger cannot have come off the wire as one datagram.
constexpr std::size_t kMaxPacketBytes = 65507;
// More nested bundles than this are rejected so a crafted packet cannot exhaust the stack.
constexpr std::size_t kMaxBundleDepth = 8;
constexpr std::size_t kMaxMessagesPerPacket = 1024;
constexpr std::size_t kMaxArgumentsPerMessage = 1024;

enum class ParseError {
    kNone,
    kEmpty,
    kTooLarge,
    kTruncated,
    kMisaligned,
    kBadString,
    kBadAddress,
    kBadTypeTags,
    kUnsupportedType,
    kBadBlob,
    kBadBundle,
    kTooDeep,
    kTooManyMessages,
    kTooManyArguments,
    kTrailingBytes,
};

const char* to_string(ParseError error);

// One decoded argument. `tag` is the OSC type tag; only the field that the tag names is set.
// Strings and blobs are views into the packet buffer: they live as long as that buffer.
struct Argument {
    char tag = 0;
    std::int64_t int_value = 0;      // i, h, t, c, r, m (as raw bits)
    double float_value = 0.0;        // f, d
    bool bool_value = false;         // T, F
    std::string_view text;           // s, S
    const std::uint8_t* blob = nullptr;  // b
    std::size_t blob_size = 0;
};

struct Message {
    std::string_view address;
    std::string_view type_tags;  // without the leading ','
    std::vector<Argument> arguments;
};

// Parses a whole datagram (a message or a bundle, bundles flattened in order) into `out`.
// On any error `out` is left empty: a packet is accepted whole or not at all.
ParseError parse_packet(const std::uint8_t* data, std::size_t size, std::vector<Message>& out);

}  // namespace avatar_bridge::osc
