#include <catch2/catch.hpp>

#include <cmath>
#include <limits>

#include "avatar_bridge/channels.hpp"
#include "avatar_bridge/protocol.hpp"
#include "packet_builder.hpp"

using namespace avatar_bridge;
using test_support::Bytes;
using test_support::OscMessage;

namespace {

osc::Message parse_one(const Bytes& bytes, std::vector<osc::Message>& storage) {
    REQUIRE(osc::parse_packet(bytes.data(), bytes.size(), storage) == osc::ParseError::kNone);
    REQUIRE(storage.size() == 1);
    return storage[0];
}

}  // namespace

TEST_CASE("names announcement decodes subject and names in order", "[protocol]") {
    const std::vector<std::string> names = default_channel_names();
    const Bytes bytes = test_support::names_message("avatar", names);
    std::vector<osc::Message> storage;
    NamesMessage out;
    REQUIRE(decode_names(parse_one(bytes, storage), out) == DecodeError::kNone);
    CHECK(out.subject == "avatar");
    CHECK(out.names == names);
    CHECK(out.names.size() == 76);
}

TEST_CASE("frame decodes header fields and values", "[protocol]") {
    std::vector<float> values(76);
    for (std::size_t i = 0; i < values.size(); ++i) values[i] = static_cast<float>(i) / 100.0f;
    const Bytes bytes = test_support::frame_message("avatar", 42, 1.5f, "aa", 0.75f, values);
    std::vector<osc::Message> storage;
    FrameMessage out;
    REQUIRE(decode_frame(parse_one(bytes, storage), out) == DecodeError::kNone);
    CHECK(out.subject == "avatar");
    CHECK(out.seq == 42);
    CHECK(out.t_s == 1.5f);
    CHECK(out.viseme == "aa");
    CHECK(out.voice == 0.75f);
    CHECK(out.values == values);
}

TEST_CASE("messages that break the schema are refused", "[protocol]") {
    std::vector<osc::Message> storage;
    FrameMessage frame;
    NamesMessage names;

    SECTION("frame with an int where a float belongs") {
        const Bytes b = OscMessage("/avatar/v1/frame").s("a").i(1).f(0).s("aa").f(0).i(3).bytes();
        CHECK(decode_frame(parse_one(b, storage), frame) == DecodeError::kBadTypeTags);
    }
    SECTION("frame with a missing header field") {
        const Bytes b = OscMessage("/avatar/v1/frame").s("a").i(1).f(0).s("aa").bytes();
        CHECK(decode_frame(parse_one(b, storage), frame) == DecodeError::kBadTypeTags);
    }
    SECTION("frame with a NaN value") {
        const Bytes b = test_support::frame_message("a", 1, 0, "aa", 0, {0.1f, std::nanf("")});
        CHECK(decode_frame(parse_one(b, storage), frame) == DecodeError::kNonFiniteValue);
    }
    SECTION("frame with an absurd but finite value") {
        const Bytes b = test_support::frame_message("a", 1, 0, "aa", 0, {0.1f, 1e30f});
        CHECK(decode_frame(parse_one(b, storage), frame) == DecodeError::kValueOutOfRange);
        const Bytes loud = test_support::frame_message("a", 1, 0, "aa", -1e30f, {0.1f});  // the voice
        CHECK(decode_frame(parse_one(loud, storage), frame) == DecodeError::kValueOutOfRange);
        const Bytes ok = test_support::frame_message("a", 1, 1e6f, "aa", 0, {-1000.0f, 1000.0f});
        CHECK(decode_frame(parse_one(ok, storage), frame) == DecodeError::kNone);
    }
    SECTION("frame with an infinite time") {
        const Bytes b = test_support::frame_message("a", 1, std::numeric_limits<float>::infinity(), "aa", 0, {});
        CHECK(decode_frame(parse_one(b, storage), frame) == DecodeError::kNonFiniteValue);
    }
    SECTION("frame with an empty subject") {
        const Bytes b = test_support::frame_message("", 1, 0, "aa", 0, {0.1f});
        CHECK(decode_frame(parse_one(b, storage), frame) == DecodeError::kBadSubject);
    }
    SECTION("frame with a subject that is not UTF-8") {
        const Bytes b = test_support::frame_message("a\xff", 1, 0, "aa", 0, {0.1f});
        CHECK(decode_frame(parse_one(b, storage), frame) == DecodeError::kBadSubject);
    }
    SECTION("frame with too many values") {
        const Bytes b = test_support::frame_message("a", 1, 0, "aa", 0, std::vector<float>(kMaxChannels + 1));
        CHECK(decode_frame(parse_one(b, storage), frame) == DecodeError::kTooManyChannels);
    }
    SECTION("frame decoder given a names message") {
        const Bytes b = test_support::names_message("a", {"x"});
        CHECK(decode_frame(parse_one(b, storage), frame) == DecodeError::kWrongAddress);
    }
    SECTION("names with a float") {
        const Bytes b = OscMessage("/avatar/v1/names").s("a").s("x").f(1).bytes();
        CHECK(decode_names(parse_one(b, storage), names) == DecodeError::kBadTypeTags);
    }
    SECTION("names with no channel") {
        const Bytes b = OscMessage("/avatar/v1/names").s("a").bytes();
        CHECK(decode_names(parse_one(b, storage), names) == DecodeError::kBadTypeTags);
    }
    SECTION("names with a duplicate") {
        const Bytes b = test_support::names_message("a", {"jawOpen", "x", "jawOpen"});
        CHECK(decode_names(parse_one(b, storage), names) == DecodeError::kDuplicateName);
    }
    SECTION("names with an empty name") {
        const Bytes b = test_support::names_message("a", {"jawOpen", ""});
        CHECK(decode_names(parse_one(b, storage), names) == DecodeError::kBadName);
    }
    SECTION("names with an overlong name") {
        const Bytes b = test_support::names_message("a", {std::string(kMaxNameBytes + 1, 'x')});
        CHECK(decode_names(parse_one(b, storage), names) == DecodeError::kBadName);
    }
}

TEST_CASE("UTF-8 validation accepts well-formed text only", "[protocol]") {
    CHECK(is_valid_utf8("avatar"));
    CHECK(is_valid_utf8("\xc3\xa9t\xc3\xa9"));          // été
    CHECK(is_valid_utf8("\xf0\x9f\x98\x80"));          // U+1F600
    CHECK_FALSE(is_valid_utf8("\xc3"));                 // cut sequence
    CHECK_FALSE(is_valid_utf8("\xc0\xaf"));             // overlong '/'
    CHECK_FALSE(is_valid_utf8("\xed\xa0\x80"));         // surrogate
    CHECK_FALSE(is_valid_utf8("\xf4\x90\x80\x80"));     // above U+10FFFF
    CHECK_FALSE(is_valid_utf8(std::string_view("a\0b", 3)));
}

TEST_CASE("curve names use Live Link Face spelling for ARKit channels only", "[protocol]") {
    CHECK(curve_name_for_channel("jawOpen") == "JawOpen");
    CHECK(curve_name_for_channel("eyeBlinkLeft") == "EyeBlinkLeft");
    CHECK(curve_name_for_channel("tongueOut") == "TongueOut");
    CHECK(curve_name_for_channel("jaw_open_rad") == "jaw_open_rad");
    CHECK(curve_name_for_channel("ema_li_x") == "ema_li_x");
    CHECK(curve_name_for_channel("somethingElse") == "somethingElse");
}
