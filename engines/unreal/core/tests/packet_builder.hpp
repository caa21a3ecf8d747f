// Test-side encoders: OSC messages/bundles and Live Link Face v6 packets, written from the specs.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace test_support {

using Bytes = std::vector<std::uint8_t>;

class OscMessage {
public:
    explicit OscMessage(std::string_view address);
    OscMessage& i(std::int32_t value);
    OscMessage& f(float value);
    OscMessage& d(double value);
    OscMessage& h(std::int64_t value);
    OscMessage& s(std::string_view value);
    OscMessage& b(const Bytes& value);
    OscMessage& tag_only(char tag);  // T, F, N, I
    Bytes bytes() const;

private:
    std::string address_;
    std::string tags_ = ",";
    Bytes payload_;
};

Bytes bundle(const std::vector<Bytes>& elements);
Bytes names_message(std::string_view subject, const std::vector<std::string>& names);
Bytes frame_message(std::string_view subject, std::int32_t seq, float t_s, std::string_view viseme, float voice,
                    const std::vector<float>& values);
Bytes livelinkface_packet(std::string_view device, std::string_view subject, std::int32_t frame, float subframe,
                          std::int32_t rate_num, std::int32_t rate_den, const std::array<float, 61>& values);

}  // namespace test_support
