#include "packet_builder.hpp"

#include <cstring>

namespace test_support {
namespace {

void put_u32(Bytes& out, std::uint32_t v) {
    out.push_back(static_cast<std::uint8_t>(v >> 24));
    out.push_back(static_cast<std::uint8_t>(v >> 16));
    out.push_back(static_cast<std::uint8_t>(v >> 8));
    out.push_back(static_cast<std::uint8_t>(v));
}

void put_f32(Bytes& out, float value) {
    std::uint32_t bits = 0;
    std::memcpy(&bits, &value, sizeof bits);
    put_u32(out, bits);
}

void put_string(Bytes& out, std::string_view text) {
    out.insert(out.end(), text.begin(), text.end());
    out.push_back(0);
    while (out.size() % 4 != 0) out.push_back(0);
}

}  // namespace

OscMessage::OscMessage(std::string_view address) : address_(address) {}

OscMessage& OscMessage::i(std::int32_t value) {
    tags_ += 'i';
    put_u32(payload_, static_cast<std::uint32_t>(value));
    return *this;
}

OscMessage& OscMessage::f(float value) {
    tags_ += 'f';
    put_f32(payload_, value);
    return *this;
}

OscMessage& OscMessage::d(double value) {
    tags_ += 'd';
    std::uint64_t bits = 0;
    std::memcpy(&bits, &value, sizeof bits);
    put_u32(payload_, static_cast<std::uint32_t>(bits >> 32));
    put_u32(payload_, static_cast<std::uint32_t>(bits));
    return *this;
}

OscMessage& OscMessage::h(std::int64_t value) {
    tags_ += 'h';
    const auto bits = static_cast<std::uint64_t>(value);
    put_u32(payload_, static_cast<std::uint32_t>(bits >> 32));
    put_u32(payload_, static_cast<std::uint32_t>(bits));
    return *this;
}

OscMessage& OscMessage::s(std::string_view value) {
    tags_ += 's';
    put_string(payload_, value);
    return *this;
}

OscMessage& OscMessage::b(const Bytes& value) {
    tags_ += 'b';
    put_u32(payload_, static_cast<std::uint32_t>(value.size()));
    payload_.insert(payload_.end(), value.begin(), value.end());
    while (payload_.size() % 4 != 0) payload_.push_back(0);
    return *this;
}

OscMessage& OscMessage::tag_only(char tag) {
    tags_ += tag;
    return *this;
}

Bytes OscMessage::bytes() const {
    Bytes out;
    put_string(out, address_);
    put_string(out, tags_);
    out.insert(out.end(), payload_.begin(), payload_.end());
    return out;
}

Bytes bundle(const std::vector<Bytes>& elements) {
    Bytes out;
    put_string(out, "#bundle");
    put_u32(out, 0);
    put_u32(out, 1);  // timetag "immediately"
    for (const Bytes& element : elements) {
        put_u32(out, static_cast<std::uint32_t>(element.size()));
        out.insert(out.end(), element.begin(), element.end());
    }
    return out;
}

Bytes names_message(std::string_view subject, const std::vector<std::string>& names) {
    OscMessage m("/avatar/v1/names");
    m.s(subject);
    for (const std::string& n : names) m.s(n);
    return m.bytes();
}

Bytes frame_message(std::string_view subject, std::int32_t seq, float t_s, std::string_view viseme, float voice,
                    const std::vector<float>& values) {
    OscMessage m("/avatar/v1/frame");
    m.s(subject).i(seq).f(t_s).s(viseme).f(voice);
    for (const float v : values) m.f(v);
    return m.bytes();
}

Bytes livelinkface_packet(std::string_view device, std::string_view subject, std::int32_t frame, float subframe,
                          std::int32_t rate_num, std::int32_t rate_den, const std::array<float, 61>& values) {
    Bytes out;
    out.push_back(6);
    put_u32(out, static_cast<std::uint32_t>(device.size()));
    out.insert(out.end(), device.begin(), device.end());
    put_u32(out, static_cast<std::uint32_t>(subject.size()));
    out.insert(out.end(), subject.begin(), subject.end());
    put_u32(out, static_cast<std::uint32_t>(frame));
    put_f32(out, subframe);
    put_u32(out, static_cast<std::uint32_t>(rate_num));
    put_u32(out, static_cast<std::uint32_t>(rate_den));
    out.push_back(61);
    for (const float v : values) put_f32(out, v);
    return out;
}

}  // namespace test_support
