#include "avatar_bridge/protocol.hpp"

#include <cmath>
#include <set>

namespace avatar_bridge {
namespace {

bool is_valid_name(std::string_view name) {
    return !name.empty() && name.size() <= kMaxNameBytes && is_valid_utf8(name);
}

bool all_tags(std::string_view tags, char tag) {
    for (const char c : tags) {
        if (c != tag) return false;
    }
    return true;
}

}  // namespace

const char* to_string(DecodeError error) {
    switch (error) {
        case DecodeError::kNone: return "ok";
        case DecodeError::kWrongAddress: return "wrong address";
        case DecodeError::kBadTypeTags: return "unexpected type tags";
        case DecodeError::kBadSubject: return "empty, too long or non-UTF-8 subject";
        case DecodeError::kBadName: return "empty, too long or non-UTF-8 channel name";
        case DecodeError::kDuplicateName: return "channel name announced twice";
        case DecodeError::kTooManyChannels: return "too many channels";
        case DecodeError::kNonFiniteValue: return "NaN or infinite value";
        case DecodeError::kBadViseme: return "bad viseme string";
        case DecodeError::kValueOutOfRange: return "channel value beyond +-1000";
    }
    return "unknown";
}

bool is_valid_utf8(std::string_view text) {
    std::size_t i = 0;
    while (i < text.size()) {
        const auto c = static_cast<unsigned char>(text[i]);
        if (c == 0) return false;
        std::size_t extra = 0;
        std::uint32_t code = 0;
        if (c < 0x80) {
            ++i;
            continue;
        } else if ((c & 0xE0) == 0xC0) {
            extra = 1;
            code = c & 0x1Fu;
        } else if ((c & 0xF0) == 0xE0) {
            extra = 2;
            code = c & 0x0Fu;
        } else if ((c & 0xF8) == 0xF0) {
            extra = 3;
            code = c & 0x07u;
        } else {
            return false;
        }
        if (text.size() - i <= extra) return false;
        for (std::size_t k = 1; k <= extra; ++k) {
            const auto cc = static_cast<unsigned char>(text[i + k]);
            if ((cc & 0xC0) != 0x80) return false;
            code = (code << 6) | (cc & 0x3Fu);
        }
        static constexpr std::uint32_t kMinForLength[4] = {0, 0x80, 0x800, 0x10000};
        if (code < kMinForLength[extra] || code > 0x10FFFF || (code >= 0xD800 && code <= 0xDFFF)) {
            return false;
        }
        i += extra + 1;
    }
    return true;
}

DecodeError decode_names(const osc::Message& message, NamesMessage& out) {
    if (message.address != kNamesAddress) return DecodeError::kWrongAddress;
    const std::string_view tags = message.type_tags;
    if (tags.size() < 2 || !all_tags(tags, 's')) return DecodeError::kBadTypeTags;
    if (tags.size() - 1 > kMaxChannels) return DecodeError::kTooManyChannels;
    if (!is_valid_name(message.arguments[0].text)) return DecodeError::kBadSubject;

    std::set<std::string_view> seen;
    for (std::size_t i = 1; i < message.arguments.size(); ++i) {
        const std::string_view name = message.arguments[i].text;
        if (!is_valid_name(name)) return DecodeError::kBadName;
        if (!seen.insert(name).second) return DecodeError::kDuplicateName;
    }
    out.subject.assign(message.arguments[0].text);
    out.names.clear();
    out.names.reserve(message.arguments.size() - 1);
    for (std::size_t i = 1; i < message.arguments.size(); ++i) {
        out.names.emplace_back(message.arguments[i].text);
    }
    return DecodeError::kNone;
}

DecodeError decode_frame(const osc::Message& message, FrameMessage& out) {
    if (message.address != kFrameAddress) return DecodeError::kWrongAddress;
    const std::string_view tags = message.type_tags;
    if (tags.size() < 5 || tags.substr(0, 5) != "sifsf" || !all_tags(tags.substr(5), 'f')) {
        return DecodeError::kBadTypeTags;
    }
    if (tags.size() - 5 > kMaxChannels) return DecodeError::kTooManyChannels;
    const auto& args = message.arguments;
    if (!is_valid_name(args[0].text)) return DecodeError::kBadSubject;
    // Visemes are short ASCII labels ("sil", "PP", ...); an empty one is allowed for "none".
    if (args[3].text.size() > kMaxNameBytes || !is_valid_utf8(args[3].text)) return DecodeError::kBadViseme;
    for (std::size_t i = 2; i < args.size(); ++i) {
        if (args[i].tag == 'f' && !std::isfinite(args[i].float_value)) return DecodeError::kNonFiniteValue;
    }
    for (std::size_t i = 4; i < args.size(); ++i) {  // voice, then the channel values
        if (std::fabs(args[i].float_value) > kMaxChannelAbs) return DecodeError::kValueOutOfRange;
    }
    out.subject.assign(args[0].text);
    out.seq = static_cast<std::int32_t>(args[1].int_value);
    out.t_s = static_cast<float>(args[2].float_value);
    out.viseme.assign(args[3].text);
    out.voice = static_cast<float>(args[4].float_value);
    out.values.resize(args.size() - 5);
    for (std::size_t i = 5; i < args.size(); ++i) {
        out.values[i - 5] = static_cast<float>(args[i].float_value);
    }
    return DecodeError::kNone;
}

}  // namespace avatar_bridge
