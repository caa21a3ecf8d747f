#include "avatar_bridge/osc.hpp"

#include <cstring>

namespace avatar_bridge::osc {
namespace {

constexpr char kBundleTag[8] = {'#', 'b', 'u', 'n', 'd', 'l', 'e', '\0'};

std::uint32_t read_u32(const std::uint8_t* p) {
    return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) |
           std::uint32_t{p[3]};
}

std::uint64_t read_u64(const std::uint8_t* p) {
    return (std::uint64_t{read_u32(p)} << 32) | std::uint64_t{read_u32(p + 4)};
}

std::size_t padded(std::size_t n) { return (n + 3) & ~std::size_t{3}; }

// Reads an OSC string at `pos`: NUL-terminated, NUL-padded to a multiple of 4, padding all NUL.
ParseError read_string(const std::uint8_t* data, std::size_t size, std::size_t& pos, std::string_view& out) {
    const void* nul = std::memchr(data + pos, 0, size - pos);
    if (nul == nullptr) {
        return ParseError::kTruncated;
    }
    const auto length = static_cast<std::size_t>(static_cast<const std::uint8_t*>(nul) - (data + pos));
    const std::size_t total = padded(length + 1);
    if (total > size - pos) {
        return ParseError::kTruncated;
    }
    for (std::size_t i = length + 1; i < total; ++i) {
        if (data[pos + i] != 0) {
            return ParseError::kBadString;
        }
    }
    out = std::string_view(reinterpret_cast<const char*>(data + pos), length);
    pos += total;
    return ParseError::kNone;
}

bool is_valid_address(std::string_view address) {
    if (address.empty() || address.front() != '/') {
        return false;
    }
    for (const char c : address) {
        const auto u = static_cast<unsigned char>(c);
        if (u < 0x21 || u > 0x7E) {
            return false;
        }
    }
    return true;
}

ParseError parse_message(const std::uint8_t* data, std::size_t size, std::vector<Message>& out) {
    if (out.size() >= kMaxMessagesPerPacket) {
        return ParseError::kTooManyMessages;
    }
    std::size_t pos = 0;
    Message message;
    if (const ParseError e = read_string(data, size, pos, message.address); e != ParseError::kNone) {
        return e;
    }
    if (!is_valid_address(message.address)) {
        return ParseError::kBadAddress;
    }
    // OSC 1.0 makes the type tag string mandatory; senders that omit it are not ours.
    if (pos == size) {
        return ParseError::kBadTypeTags;
    }
    std::string_view tags;
    if (const ParseError e = read_string(data, size, pos, tags); e != ParseError::kNone) {
        return e;
    }
    if (tags.empty() || tags.front() != ',') {
        return ParseError::kBadTypeTags;
    }
    tags.remove_prefix(1);
    if (tags.size() > kMaxArgumentsPerMessage) {
        return ParseError::kTooManyArguments;
    }
    message.type_tags = tags;
    message.arguments.reserve(tags.size());
    for (const char tag : tags) {
        Argument arg;
        arg.tag = tag;
        const std::size_t left = size - pos;
        switch (tag) {
            case 'i':
            case 'c':
            case 'r':
            case 'm':
                if (left < 4) return ParseError::kTruncated;
                arg.int_value = tag == 'i' ? std::int64_t{static_cast<std::int32_t>(read_u32(data + pos))}
                                           : std::int64_t{read_u32(data + pos)};
                pos += 4;
                break;
            case 'f': {
                if (left < 4) return ParseError::kTruncated;
                const std::uint32_t bits = read_u32(data + pos);
                float value = 0.0f;
                std::memcpy(&value, &bits, sizeof value);
                arg.float_value = value;
                pos += 4;
                break;
            }
            case 'h':
            case 't':
                if (left < 8) return ParseError::kTruncated;
                arg.int_value = static_cast<std::int64_t>(read_u64(data + pos));
                pos += 8;
                break;
            case 'd': {
                if (left < 8) return ParseError::kTruncated;
                const std::uint64_t bits = read_u64(data + pos);
                std::memcpy(&arg.float_value, &bits, sizeof arg.float_value);
                pos += 8;
                break;
            }
            case 's':
            case 'S':
                if (const ParseError e = read_string(data, size, pos, arg.text); e != ParseError::kNone) {
                    return e;
                }
                break;
            case 'b': {
                if (left < 4) return ParseError::kTruncated;
                const auto declared = static_cast<std::int32_t>(read_u32(data + pos));
                if (declared < 0) return ParseError::kBadBlob;
                const auto blob_size = static_cast<std::size_t>(declared);
                if (padded(blob_size) > left - 4) return ParseError::kTruncated;
                for (std::size_t i = blob_size; i < padded(blob_size); ++i) {
                    if (data[pos + 4 + i] != 0) return ParseError::kBadBlob;
                }
                arg.blob = data + pos + 4;
                arg.blob_size = blob_size;
                pos += 4 + padded(blob_size);
                break;
            }
            case 'T':
            case 'F':
                arg.bool_value = tag == 'T';
                break;
            case 'N':
            case 'I':
                break;
            default:  // arrays ('[' ']') and unknown tags: we cannot know their size, so nothing after is safe
                return ParseError::kUnsupportedType;
        }
        message.arguments.push_back(arg);
    }
    if (pos != size) {
        return ParseError::kTrailingBytes;
    }
    out.push_back(std::move(message));
    return ParseError::kNone;
}

ParseError parse_element(const std::uint8_t* data, std::size_t size, std::size_t depth, std::vector<Message>& out);

ParseError parse_bundle(const std::uint8_t* data, std::size_t size, std::size_t depth, std::vector<Message>& out) {
    if (depth >= kMaxBundleDepth) {  // at most kMaxBundleDepth nested bundles, as the Python decoder
        return ParseError::kTooDeep;
    }
    if (size < 16) {
        return ParseError::kTruncated;
    }
    if (std::memcmp(data, kBundleTag, sizeof kBundleTag) != 0) {
        return ParseError::kBadBundle;
    }
    std::size_t pos = 16;  // tag + 64-bit timetag (ignored: the bridge sends "immediately")
    while (pos < size) {
        if (size - pos < 4) {
            return ParseError::kTruncated;
        }
        const auto declared = static_cast<std::int32_t>(read_u32(data + pos));
        pos += 4;
        if (declared <= 0 || declared % 4 != 0) {
            return ParseError::kBadBundle;
        }
        const auto element_size = static_cast<std::size_t>(declared);
        if (element_size > size - pos) {
            return ParseError::kTruncated;
        }
        if (const ParseError e = parse_element(data + pos, element_size, depth + 1, out); e != ParseError::kNone) {
            return e;
        }
        pos += element_size;
    }
    return ParseError::kNone;
}

ParseError parse_element(const std::uint8_t* data, std::size_t size, std::size_t depth, std::vector<Message>& out) {
    if (data[0] == '#') {
        return parse_bundle(data, size, depth, out);
    }
    return parse_message(data, size, out);
}

}  // namespace

const char* to_string(ParseError error) {
    switch (error) {
        case ParseError::kNone: return "ok";
        case ParseError::kEmpty: return "empty packet";
        case ParseError::kTooLarge: return "packet larger than a UDP datagram";
        case ParseError::kTruncated: return "truncated";
        case ParseError::kMisaligned: return "size not a multiple of 4";
        case ParseError::kBadString: return "bad string padding";
        case ParseError::kBadAddress: return "bad address pattern";
        case ParseError::kBadTypeTags: return "missing or bad type tag string";
        case ParseError::kUnsupportedType: return "unsupported type tag";
        case ParseError::kBadBlob: return "bad blob";
        case ParseError::kBadBundle: return "bad bundle";
        case ParseError::kTooDeep: return "bundles nested too deep";
        case ParseError::kTooManyMessages: return "too many messages";
        case ParseError::kTooManyArguments: return "too many arguments";
        case ParseError::kTrailingBytes: return "bytes after the last argument";
    }
    return "unknown";
}

ParseError parse_packet(const std::uint8_t* data, std::size_t size, std::vector<Message>& out) {
    out.clear();
    if (data == nullptr || size == 0) {
        return ParseError::kEmpty;
    }
    if (size > kMaxPacketBytes) {
        return ParseError::kTooLarge;
    }
    if (size % 4 != 0) {
        return ParseError::kMisaligned;
    }
    const ParseError e = parse_element(data, size, 0, out);
    if (e != ParseError::kNone) {
        out.clear();
    }
    return e;
}

}  // namespace avatar_bridge::osc
