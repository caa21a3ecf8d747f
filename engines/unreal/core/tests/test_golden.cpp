// Decodes every OSC, VMC and Live Link Face file in schemas/golden/ (written by the bridge's Python
// encoder) and compares with the values manifest.json says they carry. ZeroMQ/msgpack files are
// not this core's business and are only counted.
#include <catch2/catch.hpp>

#include <cmath>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <set>

#include "avatar_bridge/assembler.hpp"
#include "avatar_bridge/channels.hpp"
#include "avatar_bridge/livelinkface.hpp"

using namespace avatar_bridge;
using nlohmann::json;
using Bytes = std::vector<std::uint8_t>;

namespace {

const std::string kGoldenDir = AVATAR_BRIDGE_GOLDEN_DIR;
constexpr double kPi = 3.14159265358979323846;

Bytes read_bytes(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    REQUIRE(in.good());
    return Bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

json manifest() {
    std::ifstream in(kGoldenDir + "/manifest.json");
    REQUIRE(in.good());
    return json::parse(in);
}

// Manifest floats are the float32 wire values, so equality after casting to float is exact.
void check_message(const osc::Message& m, const json& expected) {
    CHECK(m.address == expected.at("address").get<std::string>());
    CHECK("," + std::string(m.type_tags) == expected.at("types").get<std::string>());
    const json& args = expected.at("args");
    REQUIRE(m.arguments.size() == args.size());
    for (std::size_t i = 0; i < args.size(); ++i) {
        const osc::Argument& a = m.arguments[i];
        INFO(m.address << " argument " << i);
        switch (a.tag) {
            case 's': CHECK(a.text == args[i].get<std::string>()); break;
            case 'i': CHECK(a.int_value == args[i].get<std::int64_t>()); break;
            case 'f': CHECK(static_cast<float>(a.float_value) == args[i].get<float>()); break;
            default: FAIL("unexpected tag " << a.tag);
        }
    }
}

void check_assembled(const std::vector<const json*>& elements, const FrameAssembler& assembler,
                     const std::vector<AssembledFrame>& frames, const json& sample) {
    std::size_t frame_index = 0;
    for (const json* e : elements) {
        const json& args = e->at("args");
        const std::string subject = args[0].get<std::string>();
        const SubjectLayout* layout = assembler.layout(subject);
        REQUIRE(layout != nullptr);
        if (e->at("address") == std::string(kNamesAddress)) {
            REQUIRE(layout->channel_names.size() == args.size() - 1);
            for (std::size_t i = 1; i < args.size(); ++i) {
                CHECK(layout->curve_names[i - 1] == curve_name_for_channel(args[i].get<std::string>()));
            }
            continue;
        }
        REQUIRE(frame_index < frames.size());
        const AssembledFrame& f = frames[frame_index++];
        CHECK(f.subject == subject);
        CHECK(f.seq == args[1].get<std::int32_t>());
        CHECK(f.t_s == args[2].get<float>());
        CHECK(f.viseme == args[3].get<std::string>());
        CHECK(f.voice == args[4].get<float>());
        REQUIRE(f.curve_values.size() == args.size() - 5);
        for (std::size_t i = 5; i < args.size(); ++i) CHECK(f.curve_values[i - 5] == args[i].get<float>());
        // Bones come from the joint channels the sample was built with, by name.
        if (!sample.is_null()) {
            REQUIRE(f.has_bones);
            const json& joints = sample.at("joints");
            const auto deg = [&](const char* name) { return joints.at(name).get<float>() * 180.0 / kPi; };
            CHECK(f.bones[kBoneJaw].pitch_deg == Approx(-deg("jaw_open_rad")).margin(1e-9));
            CHECK(f.bones[kBoneHead].yaw_deg == Approx(-deg("head_yaw_rad")).margin(1e-9));
            CHECK(f.bones[kBoneHead].pitch_deg == Approx(deg("head_pitch_rad")).margin(1e-9));
            CHECK(f.bones[kBoneEyeRight].yaw_deg == Approx(-deg("eye_right_yaw_rad")).margin(1e-9));
            CHECK(f.bones[kBoneTongueTip].pitch_deg ==
                  Approx(joints.at("tongue_tip_up").get<float>() * kTongueTipMaxDeg).margin(1e-9));
        }
    }
    CHECK(frame_index == frames.size());
}

void check_osc_file(const Bytes& bytes, const json& entry, const json& samples) {
    const json& decoded = entry.at("decoded");
    std::vector<osc::Message> messages;
    REQUIRE(osc::parse_packet(bytes.data(), bytes.size(), messages) == osc::ParseError::kNone);
    std::vector<const json*> elements;
    if (decoded.contains("elements")) {
        for (const json& e : decoded.at("elements")) elements.push_back(&e);
    } else {
        elements.push_back(&decoded);
    }
    REQUIRE(messages.size() == elements.size());
    for (std::size_t i = 0; i < messages.size(); ++i) check_message(messages[i], *elements[i]);

    const std::string protocol = entry.at("protocol");
    if (protocol == "osc-names" || protocol == "osc-frame" || protocol == "osc-bundle") {
        FrameAssembler assembler;
        std::vector<AssembledFrame> frames;
        REQUIRE(assembler.feed(bytes.data(), bytes.size(), frames));
        CHECK(assembler.stats().rejected_messages == 0);
        const json& sample = entry.at("sample").is_null() ? json() : samples.at(entry.at("sample").get<std::string>());
        check_assembled(elements, assembler, frames, sample);
    }
}

void check_livelinkface_file(const Bytes& bytes, const json& decoded) {
    livelinkface::Packet p;
    REQUIRE(livelinkface::decode(bytes.data(), bytes.size(), p) == livelinkface::DecodeError::kNone);
    CHECK(decoded.at("version").get<int>() == livelinkface::kPacketVersion);
    CHECK(decoded.at("count").get<std::size_t>() == livelinkface::kValueCount);
    CHECK(p.device_id == decoded.at("device_id").get<std::string>());
    CHECK(p.subject == decoded.at("subject").get<std::string>());
    CHECK(p.frame_number == decoded.at("frame_number").get<std::int32_t>());
    CHECK(p.subframe == decoded.at("subframe").get<float>());
    CHECK(p.rate_numerator == decoded.at("rate")[0].get<std::int32_t>());
    CHECK(p.rate_denominator == decoded.at("rate")[1].get<std::int32_t>());
    const json& values = decoded.at("values");
    REQUIRE(values.size() == livelinkface::kValueCount);
    for (std::size_t i = 0; i < livelinkface::kValueCount; ++i) {
        const std::string name(livelinkface::kValueNames[i]);
        INFO(name);
        CHECK(p.values[i] == values.at(name).get<float>());
    }
}

// "datagrams" container: repeated [uint32 BE length][datagram]; every datagram must be valid OSC.
void check_vmc_file(const Bytes& bytes, const json& decoded) {
    std::vector<osc::Message> all;
    std::size_t datagrams = 0;
    std::size_t pos = 0;
    while (pos < bytes.size()) {
        REQUIRE(bytes.size() - pos >= 4);
        const std::size_t n = (std::size_t{bytes[pos]} << 24) | (std::size_t{bytes[pos + 1]} << 16) |
                              (std::size_t{bytes[pos + 2]} << 8) | std::size_t{bytes[pos + 3]};
        pos += 4;
        REQUIRE(bytes.size() - pos >= n);
        std::vector<osc::Message> messages;
        REQUIRE(osc::parse_packet(bytes.data() + pos, n, messages) == osc::ParseError::kNone);
        pos += n;
        ++datagrams;
        all.insert(all.end(), messages.begin(), messages.end());
    }
    CHECK(datagrams == decoded.at("datagrams").get<std::size_t>());
    const json& order = decoded.at("messages_in_order");
    REQUIRE(all.size() == order.size());
    std::set<std::string> bones_seen;
    std::set<std::string> blends_seen;
    for (std::size_t i = 0; i < all.size(); ++i) {
        const osc::Message& m = all[i];
        CHECK(m.address == "/VMC/Ext/" + order[i].get<std::string>());
        if (m.address == "/VMC/Ext/Bone/Pos") {
            REQUIRE(m.type_tags == "sfffffff");
            const std::string name(m.arguments[0].text);
            const json& bone = decoded.at("bones").at(name);
            for (std::size_t k = 0; k < 3; ++k) CHECK(static_cast<float>(m.arguments[1 + k].float_value) == bone.at("pos")[k].get<float>());
            for (std::size_t k = 0; k < 4; ++k) CHECK(static_cast<float>(m.arguments[4 + k].float_value) == bone.at("rot_xyzw")[k].get<float>());
            bones_seen.insert(name);
        } else if (m.address == "/VMC/Ext/Blend/Val") {
            REQUIRE(m.type_tags == "sf");
            const std::string name(m.arguments[0].text);
            CHECK(static_cast<float>(m.arguments[1].float_value) == decoded.at("blend").at(name).get<float>());
            blends_seen.insert(name);
        } else if (m.address == "/VMC/Ext/OK") {
            CHECK(m.arguments.at(0).int_value == decoded.at("ok").get<std::int64_t>());
        } else if (m.address == "/VMC/Ext/T") {
            CHECK(static_cast<float>(m.arguments.at(0).float_value) == decoded.at("t").get<float>());
        }
    }
    CHECK(bones_seen.size() == decoded.at("bones").size());
    CHECK(blends_seen.size() == decoded.at("blend").size());
}

}  // namespace

TEST_CASE("the default channel order is the one the bridge announces", "[golden]") {
    const json m = manifest();
    CHECK(m.at("schema_version").get<int>() == 1);
    CHECK(m.at("osc_channel_names").get<std::vector<std::string>>() == default_channel_names());
    const auto llf = m.at("livelinkface_curve_names").get<std::vector<std::string>>();
    REQUIRE(llf.size() == livelinkface::kValueCount);
    for (std::size_t i = 0; i < llf.size(); ++i) CHECK(llf[i] == livelinkface::kValueNames[i]);
}

TEST_CASE("every golden OSC, VMC and Live Link Face file decodes to the manifest's values", "[golden]") {
    const json m = manifest();
    const json& samples = m.at("samples");
    std::size_t decoded_files = 0;
    std::size_t not_ours = 0;
    std::size_t livelinkface_files = 0;
    std::size_t assembled_files = 0;
    for (const json& entry : m.at("files")) {
        const std::string file = entry.at("file");
        const std::string protocol = entry.at("protocol");
        INFO(file << " (" << protocol << ")");
        const Bytes bytes = read_bytes(kGoldenDir + "/" + file);
        CHECK(bytes.size() == entry.at("bytes").get<std::size_t>());
        if (protocol.rfind("osc-", 0) == 0 || protocol == "control-osc") {
            check_osc_file(bytes, entry, samples);
            assembled_files += protocol == "osc-names" || protocol == "osc-frame" || protocol == "osc-bundle";
        } else if (protocol == "livelinkface") {
            check_livelinkface_file(bytes, entry.at("decoded"));
            ++livelinkface_files;
        } else if (protocol == "vmc") {
            check_vmc_file(bytes, entry.at("decoded"));
        } else if (protocol.rfind("zmq-", 0) == 0 || protocol.rfind("control-zmq-", 0) == 0) {
            ++not_ours;
            continue;
        } else {
            WARN("golden protocol this test does not know yet: " << protocol);
            continue;
        }
        ++decoded_files;
    }
    INFO("decoded " << decoded_files << ", msgpack files skipped " << not_ours);
    CHECK(livelinkface_files >= 3);
    CHECK(assembled_files >= 9);
    CHECK(decoded_files >= 40);
}

TEST_CASE("every strict prefix of a golden bundle is handled without crashing", "[golden]") {
    for (const char* file : {"osc_bundle_0.bin", "osc_bundle_1.bin", "osc_bundle_2.bin", "livelinkface_2.bin"}) {
        const Bytes bytes = read_bytes(kGoldenDir + "/" + file);
        for (std::size_t n = 0; n < bytes.size(); ++n) {
            FrameAssembler assembler;
            std::vector<AssembledFrame> frames;
            assembler.feed(bytes.data(), n, frames);
            CHECK(frames.empty());  // the frame is the bundle's last element: no prefix completes it
            livelinkface::Packet p;
            CHECK(livelinkface::decode(bytes.data(), n, p) != livelinkface::DecodeError::kNone);
        }
    }
}
