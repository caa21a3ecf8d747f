#include <catch2/catch.hpp>

#include <cmath>
#include <utility>

#include "avatar_bridge/channels.hpp"
#include "avatar_bridge/livelinkface.hpp"
#include "packet_builder.hpp"

using namespace avatar_bridge;
using livelinkface::DecodeError;
using test_support::Bytes;

namespace {

std::array<float, 61> ramp() {
    std::array<float, 61> v{};
    for (std::size_t i = 0; i < v.size(); ++i) v[i] = static_cast<float>(i) / 64.0f;
    return v;
}

}  // namespace

TEST_CASE("a v6 packet decodes every field", "[livelinkface]") {
    const Bytes p = test_support::livelinkface_packet("dev-1", "iPhone", 1234, 0.5f, 60, 1, ramp());
    REQUIRE(p.size() == livelinkface::kFixedBytes + 5 + 6);
    livelinkface::Packet out;
    REQUIRE(livelinkface::decode(p.data(), p.size(), out) == DecodeError::kNone);
    CHECK(out.device_id == "dev-1");
    CHECK(out.subject == "iPhone");
    CHECK(out.frame_number == 1234);
    CHECK(out.subframe == 0.5f);
    CHECK(out.rate_numerator == 60);
    CHECK(out.rate_denominator == 1);
    CHECK(out.values == ramp());
}

TEST_CASE("the 61 value names start with the 52 ARKit curves", "[livelinkface]") {
    for (std::size_t i = 0; i < kArkitCount; ++i) {
        CHECK(curve_name_for_channel(kArkitNames[i]) == livelinkface::kValueNames[i]);
    }
    CHECK(livelinkface::kValueNames[52] == "HeadYaw");
    CHECK(livelinkface::kValueNames[60] == "RightEyeRoll");
}

TEST_CASE("bad Live Link Face packets are refused", "[livelinkface]") {
    const Bytes good = test_support::livelinkface_packet("d", "s", 1, 0.0f, 30, 1, ramp());
    livelinkface::Packet out;
    out.subject = "untouched";

    SECTION("every strict prefix") {
        for (std::size_t n = 0; n < good.size(); ++n) {
            INFO("prefix " << n);
            CHECK(livelinkface::decode(good.data(), n, out) != DecodeError::kNone);
        }
    }
    SECTION("wrong version") {
        Bytes p = good;
        p[0] = 5;
        CHECK(livelinkface::decode(p.data(), p.size(), out) == DecodeError::kBadVersion);
    }
    SECTION("PyLiveLinkFace's little-endian version word") {
        Bytes p = good;
        p.insert(p.begin() + 1, {0, 0, 0});
        CHECK(livelinkface::decode(p.data(), p.size(), out) != DecodeError::kNone);
    }
    SECTION("negative name length") {
        Bytes p = good;
        p[1] = 0xFF;
        CHECK(livelinkface::decode(p.data(), p.size(), out) == DecodeError::kBadName);
    }
    SECTION("name length past the end") {
        Bytes p = good;
        p[3] = 0x01;
        p[4] = 0xF4;  // 500 bytes: allowed length, but the packet is shorter
        CHECK(livelinkface::decode(p.data(), p.size(), out) == DecodeError::kTruncated);
    }
    SECTION("wrong blendshape count") {
        Bytes p = good;
        p[1 + 4 + 1 + 4 + 1 + 16] = 52;
        CHECK(livelinkface::decode(p.data(), p.size(), out) == DecodeError::kBadCount);
    }
    SECTION("trailing bytes") {
        Bytes p = good;
        p.push_back(0);
        CHECK(livelinkface::decode(p.data(), p.size(), out) == DecodeError::kTrailingBytes);
    }
    SECTION("oversized") {
        const Bytes p(livelinkface::kFixedBytes + 2 * livelinkface::kMaxNameBytes + 1, 6);
        CHECK(livelinkface::decode(p.data(), p.size(), out) == DecodeError::kTooLarge);
    }
    SECTION("NaN value") {
        auto values = ramp();
        values[17] = std::nanf("");
        const Bytes p = test_support::livelinkface_packet("d", "s", 1, 0.0f, 30, 1, values);
        CHECK(livelinkface::decode(p.data(), p.size(), out) == DecodeError::kNonFiniteValue);
    }
    SECTION("absurd but finite value") {
        auto values = ramp();
        values[54] = -1e30f;
        const Bytes p = test_support::livelinkface_packet("d", "s", 1, 0.0f, 30, 1, values);
        CHECK(livelinkface::decode(p.data(), p.size(), out) == DecodeError::kValueOutOfRange);
    }
    SECTION("zero or negative frame rate") {
        for (const auto& [num, den] : {std::pair{0, 0}, std::pair{0, 1}, std::pair{30, 0}, std::pair{-30, 1}}) {
            const Bytes p = test_support::livelinkface_packet("d", "s", 1, 0.0f, num, den, ramp());
            CHECK(livelinkface::decode(p.data(), p.size(), out) == DecodeError::kBadFrameRate);
        }
    }
    CHECK(out.subject == "untouched");
}
