#include <catch2/catch.hpp>

#include <cstring>

#include "avatar_bridge/osc.hpp"
#include "packet_builder.hpp"

using avatar_bridge::osc::Message;
using avatar_bridge::osc::ParseError;
using avatar_bridge::osc::parse_packet;
using test_support::Bytes;
using test_support::OscMessage;

namespace {

ParseError parse(const Bytes& bytes, std::vector<Message>& out) { return parse_packet(bytes.data(), bytes.size(), out); }

}  // namespace

TEST_CASE("a message with every supported type decodes to the values written", "[osc]") {
    const Bytes blob = {1, 2, 3, 4, 5};
    const Bytes packet = OscMessage("/a/b")
                             .i(-7)
                             .f(0.25f)
                             .s("hello")
                             .b(blob)
                             .d(-1.5)
                             .h(-(std::int64_t{1} << 40))
                             .tag_only('T')
                             .tag_only('F')
                             .tag_only('N')
                             .tag_only('I')
                             .s("")
                             .bytes();
    std::vector<Message> out;
    REQUIRE(parse(packet, out) == ParseError::kNone);
    REQUIRE(out.size() == 1);
    const Message& m = out[0];
    CHECK(m.address == "/a/b");
    CHECK(m.type_tags == "ifsbdhTFNIs");
    REQUIRE(m.arguments.size() == 11);
    CHECK(m.arguments[0].int_value == -7);
    CHECK(m.arguments[1].float_value == 0.25);
    CHECK(m.arguments[2].text == "hello");
    REQUIRE(m.arguments[3].blob_size == 5);
    CHECK(std::memcmp(m.arguments[3].blob, blob.data(), 5) == 0);
    CHECK(m.arguments[4].float_value == -1.5);
    CHECK(m.arguments[5].int_value == -(std::int64_t{1} << 40));
    CHECK(m.arguments[6].bool_value);
    CHECK_FALSE(m.arguments[7].bool_value);
    CHECK(m.arguments[10].text.empty());
}

TEST_CASE("nested bundles are flattened in order", "[osc]") {
    const Bytes a = OscMessage("/a").i(1).bytes();
    const Bytes b = OscMessage("/b").i(2).bytes();
    const Bytes c = OscMessage("/c").i(3).bytes();
    const Bytes packet = test_support::bundle({a, test_support::bundle({b, c})});
    std::vector<Message> out;
    REQUIRE(parse(packet, out) == ParseError::kNone);
    REQUIRE(out.size() == 3);
    CHECK(out[0].address == "/a");
    CHECK(out[1].address == "/b");
    CHECK(out[2].address == "/c");
    CHECK(out[2].arguments[0].int_value == 3);
}

TEST_CASE("an empty bundle is valid and carries nothing", "[osc]") {
    std::vector<Message> out;
    CHECK(parse(test_support::bundle({}), out) == ParseError::kNone);
    CHECK(out.empty());
}

TEST_CASE("every strict prefix of a message is rejected", "[osc]") {
    const Bytes packet = OscMessage("/avatar/v1/frame").s("subj").i(3).f(1.0f).s("aa").f(0.5f).f(0.1f).bytes();
    std::vector<Message> out;
    for (std::size_t n = 0; n < packet.size(); ++n) {
        INFO("prefix length " << n);
        CHECK(parse_packet(packet.data(), n, out) != ParseError::kNone);
        CHECK(out.empty());
    }
}

TEST_CASE("a prefix of a bundle never yields the whole bundle", "[osc]") {
    const Bytes packet =
        test_support::bundle({OscMessage("/a").f(1.0f).bytes(), OscMessage("/b").s("xyz").f(2.0f).bytes()});
    std::vector<Message> out;
    for (std::size_t n = 0; n < packet.size(); ++n) {
        INFO("prefix length " << n);
        const ParseError e = parse_packet(packet.data(), n, out);
        // Cutting exactly between elements leaves a shorter but valid bundle.
        if (e == ParseError::kNone) {
            CHECK(out.size() < 2);
        } else {
            CHECK(out.empty());
        }
    }
}

TEST_CASE("oversized and empty packets are rejected before parsing", "[osc]") {
    std::vector<Message> out;
    Bytes big = OscMessage("/a").b(Bytes(avatar_bridge::osc::kMaxPacketBytes, 0)).bytes();
    CHECK(parse(big, out) == ParseError::kTooLarge);
    CHECK(parse_packet(nullptr, 0, out) == ParseError::kEmpty);
    const Bytes small = OscMessage("/a").bytes();
    CHECK(parse_packet(small.data(), 0, out) == ParseError::kEmpty);
}

TEST_CASE("malformed packets are rejected with the reason", "[osc]") {
    std::vector<Message> out;
    const Bytes good = OscMessage("/ab").i(1).bytes();  // "/ab\0" ",i\0\0" int
    REQUIRE(parse(good, out) == ParseError::kNone);

    SECTION("size not a multiple of four") {
        Bytes p = good;
        p.push_back(0);
        CHECK(parse(p, out) == ParseError::kMisaligned);
    }
    SECTION("address without a slash") {
        Bytes p = good;
        p[0] = 'x';
        CHECK(parse(p, out) == ParseError::kBadAddress);
    }
    SECTION("address with a space") {
        Bytes p = good;
        p[1] = ' ';
        CHECK(parse(p, out) == ParseError::kBadAddress);
    }
    SECTION("string padding that is not NUL") {
        Bytes p = OscMessage("/a").i(1).bytes();  // "/a\0\0"
        p[3] = 'z';
        CHECK(parse(p, out) == ParseError::kBadString);
    }
    SECTION("missing type tag string") {
        const Bytes p = {'/', 'a', 0, 0};
        CHECK(parse(p, out) == ParseError::kBadTypeTags);
    }
    SECTION("type tag string without a comma") {
        Bytes p = good;
        p[4] = 'i';
        CHECK(parse(p, out) == ParseError::kBadTypeTags);
    }
    SECTION("unknown type tag") {
        Bytes p = good;
        p[5] = 'q';
        CHECK(parse(p, out) == ParseError::kUnsupportedType);
    }
    SECTION("arrays are refused") {
        Bytes p = good;
        p[5] = '[';
        CHECK(parse(p, out) == ParseError::kUnsupportedType);
    }
    SECTION("more data than the tags describe") {
        Bytes p = good;
        p.insert(p.end(), {0, 0, 0, 0});
        CHECK(parse(p, out) == ParseError::kTrailingBytes);
    }
    SECTION("string argument without a terminator") {
        Bytes p = OscMessage("/a").s("abc").bytes();  // "/a\0\0" ",s\0\0" "abc\0"
        p[11] = 'd';
        CHECK(parse(p, out) == ParseError::kTruncated);
    }
    SECTION("negative blob size") {
        Bytes p = OscMessage("/a").b({1, 2, 3, 4}).bytes();
        p[8] = 0xFF;
        CHECK(parse(p, out) == ParseError::kBadBlob);
    }
    SECTION("blob size past the end") {
        Bytes p = OscMessage("/a").b({1, 2, 3, 4}).bytes();
        p[11] = 200;
        CHECK(parse(p, out) == ParseError::kTruncated);
    }
    SECTION("too many arguments") {
        OscMessage m("/a");
        for (std::size_t i = 0; i <= avatar_bridge::osc::kMaxArgumentsPerMessage; ++i) m.tag_only('N');
        CHECK(parse(m.bytes(), out) == ParseError::kTooManyArguments);
    }
    CHECK(out.empty());
}

TEST_CASE("malformed bundles are rejected with the reason", "[osc]") {
    std::vector<Message> out;
    const Bytes inner = OscMessage("/a").i(1).bytes();
    const Bytes good = test_support::bundle({inner});
    REQUIRE(parse(good, out) == ParseError::kNone);

    SECTION("wrong bundle tag") {
        Bytes p = good;
        p[1] = 'B';
        CHECK(parse(p, out) == ParseError::kBadBundle);
    }
    SECTION("header cut short") {
        const Bytes p(good.begin(), good.begin() + 12);
        CHECK(parse(p, out) == ParseError::kTruncated);
    }
    SECTION("element size zero") {
        Bytes p = good;
        p[19] = 0;
        CHECK(parse(p, out) == ParseError::kBadBundle);
    }
    SECTION("element size not a multiple of four") {
        Bytes p = good;
        p[19] = 5;
        CHECK(parse(p, out) == ParseError::kBadBundle);
    }
    SECTION("negative element size") {
        Bytes p = good;
        p[16] = 0x80;
        CHECK(parse(p, out) == ParseError::kBadBundle);
    }
    SECTION("element larger than the packet") {
        Bytes p = good;
        p[19] = static_cast<std::uint8_t>(p[19] + 4);
        CHECK(parse(p, out) == ParseError::kTruncated);
    }
    SECTION("dangling bytes after the last element") {
        Bytes p = good;
        p.insert(p.end(), {0, 0, 0, 4});
        CHECK(parse(p, out) == ParseError::kTruncated);
    }
    SECTION("one bad element rejects the whole bundle") {
        Bytes bad = inner;
        bad[0] = 'x';
        CHECK(parse(test_support::bundle({inner, bad}), out) == ParseError::kBadAddress);
    }
    SECTION("nesting deeper than the limit") {
        Bytes p = inner;
        for (std::size_t depth = 0; depth <= avatar_bridge::osc::kMaxBundleDepth; ++depth) {
            p = test_support::bundle({p});
        }
        CHECK(parse(p, out) == ParseError::kTooDeep);
    }
    SECTION("too many messages") {
        std::vector<Bytes> elements(avatar_bridge::osc::kMaxMessagesPerPacket + 1, OscMessage("/a").bytes());
        CHECK(parse(test_support::bundle(elements), out) == ParseError::kTooManyMessages);
    }
    CHECK(out.empty());
}

TEST_CASE("nesting exactly at the limit is accepted", "[osc]") {
    Bytes p = OscMessage("/a").i(1).bytes();
    for (std::size_t depth = 0; depth < avatar_bridge::osc::kMaxBundleDepth; ++depth) {
        p = test_support::bundle({p});
    }
    std::vector<Message> out;
    CHECK(parse(p, out) == ParseError::kNone);
    CHECK(out.size() == 1);
}
