#include <catch2/catch.hpp>

#include <cmath>

#include "avatar_bridge/assembler.hpp"
#include "avatar_bridge/channels.hpp"
#include "packet_builder.hpp"

using namespace avatar_bridge;
using test_support::Bytes;

namespace {

constexpr double kPi = 3.14159265358979323846;

std::vector<float> values_with(const std::vector<std::string>& names, const std::string& name, float value) {
    std::vector<float> v(names.size(), 0.0f);
    for (std::size_t i = 0; i < names.size(); ++i) {
        if (names[i] == name) v[i] = value;
    }
    return v;
}

std::vector<AssembledFrame> feed(FrameAssembler& a, const Bytes& packet) {
    std::vector<AssembledFrame> frames;
    REQUIRE(a.feed(packet.data(), packet.size(), frames));
    return frames;
}

// Rotates v by unit quaternion q (v' = q v q*).
std::array<double, 3> rotate(const Quat& q, std::array<double, 3> v) {
    const double tx = 2 * (q.y * v[2] - q.z * v[1]);
    const double ty = 2 * (q.z * v[0] - q.x * v[2]);
    const double tz = 2 * (q.x * v[1] - q.y * v[0]);
    return {v[0] + q.w * tx + (q.y * tz - q.z * ty), v[1] + q.w * ty + (q.z * tx - q.x * tz),
            v[2] + q.w * tz + (q.x * ty - q.y * tx)};
}

}  // namespace

TEST_CASE("frames before any announcement use the default order", "[assembler]") {
    FrameAssembler a;
    const auto names = default_channel_names();
    const auto frames = feed(a, test_support::frame_message("avatar", 7, 0.5f, "oh", 1.0f,
                                                            values_with(names, "jawOpen", 0.6f)));
    REQUIRE(frames.size() == 1);
    const AssembledFrame& f = frames[0];
    CHECK(f.subject == "avatar");
    CHECK(f.seq == 7);
    CHECK(f.viseme == "oh");
    const SubjectLayout* layout = a.layout("avatar");
    REQUIRE(layout != nullptr);
    CHECK(layout->version == f.layout_version);
    REQUIRE(layout->curve_names.size() == 76);
    CHECK(layout->curve_names[17] == "JawOpen");
    CHECK(layout->curve_names[52] == "jaw_open_rad");
    CHECK(layout->curve_names[64] == "ema_li_x");
    CHECK(f.curve_values[17] == 0.6f);
    CHECK(f.has_bones);
}

TEST_CASE("the layout version changes only when the curve set changes", "[assembler]") {
    FrameAssembler a;
    const auto names = default_channel_names();
    const std::vector<float> zeros(names.size(), 0.0f);
    const auto first = feed(a, test_support::bundle({test_support::names_message("s", names),
                                                      test_support::frame_message("s", 0, 0, "sil", 0, zeros)}));
    REQUIRE(first.size() == 1);
    const std::uint64_t v1 = first[0].layout_version;

    // The once-a-second re-announcement of the same names changes nothing.
    const auto again = feed(a, test_support::bundle({test_support::names_message("s", names),
                                                      test_support::frame_message("s", 1, 0, "sil", 0, zeros)}));
    REQUIRE(again.size() == 1);
    CHECK(again[0].layout_version == v1);

    // A smaller curve set: new version, values follow the new order.
    const std::vector<std::string> fewer = {"jawOpen", "mouthClose"};
    const auto changed = feed(a, test_support::bundle({test_support::names_message("s", fewer),
                                                        test_support::frame_message("s", 2, 0, "aa", 0, {0.3f, 0.2f})}));
    REQUIRE(changed.size() == 1);
    CHECK(changed[0].layout_version != v1);
    CHECK(a.layout("s")->curve_names == std::vector<std::string>{"JawOpen", "MouthClose"});
    CHECK(changed[0].curve_values == std::vector<float>{0.3f, 0.2f});
    CHECK_FALSE(changed[0].has_bones);
}

TEST_CASE("a frame whose value count disagrees with the names is dropped", "[assembler]") {
    FrameAssembler a;
    feed(a, test_support::names_message("s", {"jawOpen", "mouthClose"}));
    const auto frames = feed(a, test_support::frame_message("s", 0, 0, "aa", 0, {0.1f, 0.2f, 0.3f}));
    CHECK(frames.empty());
    CHECK(a.stats().count_mismatches == 1);
}

TEST_CASE("subjects are kept apart and bounded", "[assembler]") {
    FrameAssembler a;
    feed(a, test_support::names_message("one", {"jawOpen"}));
    feed(a, test_support::names_message("two", {"mouthClose", "jawOpen"}));
    CHECK(a.layout("one")->curve_names.size() == 1);
    CHECK(a.layout("two")->curve_names.size() == 2);
    for (std::size_t i = 0; i < kMaxSubjects + 4; ++i) {
        feed(a, test_support::names_message("subject" + std::to_string(i), {"jawOpen"}));
    }
    // Bounded, and the newest subjects take the places of the ones heard from least recently.
    CHECK(a.stats().evicted_subjects == 6);
    CHECK(a.layout("subject19") != nullptr);
    CHECK(a.layout("one") == nullptr);
    CHECK(a.layout("two") == nullptr);
    CHECK(a.layout("subject3") == nullptr);
    CHECK(a.layout("subject4") != nullptr);
    const std::vector<std::string> evicted = a.take_evicted();
    CHECK(evicted == std::vector<std::string>{"one", "two", "subject0", "subject1", "subject2", "subject3"});
    CHECK(a.take_evicted().empty());
}

TEST_CASE("a subject still streaming keeps its place when many others come and go", "[assembler]") {
    FrameAssembler a;
    const auto names = default_channel_names();
    const std::vector<float> zeros(names.size(), 0.0f);
    for (int i = 0; i < 40; ++i) {
        // A bridge renamed again and again (or stray senders) beside the subject the user watches.
        feed(a, test_support::names_message("renamed" + std::to_string(i), {"jawOpen"}));
        const auto frames = feed(a, test_support::frame_message("avatar", i, 0, "aa", 0, zeros));
        REQUIRE(frames.size() == 1);
    }
    CHECK(a.layout("avatar") != nullptr);
    CHECK(a.stats().evicted_subjects == 40 - (kMaxSubjects - 1));
}

TEST_CASE("other addresses are ignored and bad messages counted, without losing good ones", "[assembler]") {
    FrameAssembler a;
    const auto names = default_channel_names();
    const Bytes vmc = test_support::OscMessage("/VMC/Ext/Blend/Val").s("A").f(1).bytes();
    const Bytes bad = test_support::OscMessage("/avatar/v1/frame").s("s").bytes();
    const Bytes good = test_support::frame_message("s", 3, 0, "aa", 0, std::vector<float>(names.size(), 0.0f));
    const auto frames = feed(a, test_support::bundle({vmc, bad, good}));
    CHECK(frames.size() == 1);
    CHECK(a.stats().ignored_messages == 1);
    CHECK(a.stats().rejected_messages == 1);
    CHECK(a.stats().last_decode_error == DecodeError::kBadTypeTags);

    std::vector<AssembledFrame> none;
    const Bytes garbage = {1, 2, 3};
    CHECK_FALSE(a.feed(garbage.data(), garbage.size(), none));
    CHECK(a.stats().rejected_packets == 1);
    CHECK(none.empty());
}

TEST_CASE("rotator_to_quat matches Unreal's axis conventions", "[assembler]") {
    // yaw +90: forward (X) turns to the right (Y).
    auto v = rotate(rotator_to_quat(0, 90, 0), {1, 0, 0});
    CHECK(v[0] == Approx(0).margin(1e-12));
    CHECK(v[1] == Approx(1));
    // pitch +90: forward turns up (Z).
    v = rotate(rotator_to_quat(90, 0, 0), {1, 0, 0});
    CHECK(v[2] == Approx(1));
    // roll +90: right (Y) turns down (-Z), the head tilts to its right.
    v = rotate(rotator_to_quat(0, 0, 90), {0, 1, 0});
    CHECK(v[2] == Approx(-1));
    const Quat q = rotator_to_quat(10, 20, 30);
    CHECK(q.x * q.x + q.y * q.y + q.z * q.z + q.w * q.w == Approx(1));
}

TEST_CASE("bones follow the joint channels with schema signs", "[assembler]") {
    FrameAssembler a;
    const auto names = default_channel_names();
    std::vector<float> values(names.size(), 0.0f);
    const auto set = [&](const char* name, float value) {
        for (std::size_t i = 0; i < names.size(); ++i) {
            if (names[i] == name) values[i] = value;
        }
    };
    set("jaw_open_rad", 0.2f);
    set("head_yaw_rad", static_cast<float>(kPi / 6));   // subject turns to their left
    set("head_pitch_rad", 0.1f);
    set("head_roll_rad", 0.05f);
    set("eye_left_yaw_rad", 0.3f);
    set("eye_right_pitch_rad", -0.1f);
    set("tongue_tip_up", 1.0f);
    set("tongue_body_up", -0.5f);
    set("tongue_front", 0.5f);
    const auto frames = feed(a, test_support::frame_message("s", 0, 0, "aa", 0, values));
    REQUIRE(frames.size() == 1);
    const auto& b = frames[0].bones;
    CHECK(b[kBoneHead].yaw_deg == Approx(-30.0).epsilon(1e-6));
    CHECK(b[kBoneHead].pitch_deg == Approx(0.1 * 180 / kPi).epsilon(1e-6));
    CHECK(b[kBoneHead].roll_deg == Approx(-0.05 * 180 / kPi).epsilon(1e-5));
    // Turning to the subject's left moves the face's forward axis towards -Y (Unreal's left).
    CHECK(rotate(b[kBoneHead].rotation, {1, 0, 0})[1] < -0.4);
    // The jaw opens downwards.
    CHECK(rotate(b[kBoneJaw].rotation, {1, 0, 0})[2] < -0.19);
    CHECK(b[kBoneEyeLeft].yaw_deg == Approx(-0.3 * 180 / kPi).epsilon(1e-6));
    CHECK(b[kBoneEyeRight].pitch_deg == Approx(-0.1 * 180 / kPi).epsilon(1e-5));
    CHECK(b[kBoneEyeRight].yaw_deg == 0.0);
    CHECK(b[kBoneTongueTip].pitch_deg == Approx(kTongueTipMaxDeg));
    CHECK(b[kBoneTongueBase].pitch_deg == Approx(-0.5 * kTongueBodyMaxDeg));
    CHECK(b[kBoneTongueBase].translation_cm[0] == Approx(0.5 * kTongueFrontMaxCm));
    CHECK(b[kBoneRoot].rotation.w == 1.0);
    for (const auto& bone : b) {
        const Quat& q = bone.rotation;
        CHECK(q.x * q.x + q.y * q.y + q.z * q.z + q.w * q.w == Approx(1));
    }
}

TEST_CASE("bones come from whichever joint channels are announced", "[assembler]") {
    FrameAssembler a;
    feed(a, test_support::names_message("s", {"jawOpen", "jaw_open_rad"}));
    REQUIRE(a.layout("s")->has_bones);
    const auto frames = feed(a, test_support::frame_message("s", 0, 0, "aa", 0, {0.5f, 0.25f}));
    REQUIRE(frames.size() == 1);
    CHECK(frames[0].bones[kBoneJaw].pitch_deg == Approx(-0.25 * 180 / kPi));
    CHECK(frames[0].bones[kBoneHead].rotation.w == 1.0);

    feed(a, test_support::names_message("breath_only", {"breath"}));
    CHECK_FALSE(a.layout("breath_only")->has_bones);
}

TEST_CASE("skeleton parents precede their children", "[assembler]") {
    CHECK(kBoneParents[kBoneRoot] == -1);
    for (std::size_t i = 1; i < kBoneCount; ++i) {
        CHECK(kBoneParents[i] >= 0);
        CHECK(static_cast<std::size_t>(kBoneParents[i]) < i);
    }
}
