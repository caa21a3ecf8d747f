// Turns parsed OSC packets into complete frames per subject: curve names + values and bones.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "avatar_bridge/osc.hpp"
#include "avatar_bridge/protocol.hpp"
#include "avatar_bridge/skeleton.hpp"

namespace avatar_bridge {

// Bridge subjects tracked at once, so a flood of names cannot grow memory. A new subject beyond them
// takes the place of the one heard from least recently (a subject renamed over and over, several
// bridges over time, stray senders on the LAN must not lock the real subject out for good).
constexpr std::size_t kMaxSubjects = 16;

// What a receiver needs to (re)build static data for one subject. `version` changes whenever the
// curve set changes, so a Live Link source re-pushes static data exactly when it must.
struct SubjectLayout {
    std::vector<std::string> channel_names;  // as announced by the bridge
    std::vector<std::string> curve_names;    // same order, ARKit names in PascalCase
    std::array<int, 12> joint_channel{};     // index into values per kJointNames entry, -1 if absent
    bool has_bones = false;
    std::uint64_t version = 0;
    std::uint64_t last_used = 0;  // the assembler's use count when a message last named the subject
};

struct AssembledFrame {
    std::string subject;
    std::int32_t seq = 0;
    float t_s = 0.0f;
    std::string viseme;
    float voice = 0.0f;
    std::uint64_t layout_version = 0;
    std::vector<float> curve_values;  // layout.curve_names order
    bool has_bones = false;
    std::array<BoneTransform, kBoneCount> bones{};
};

struct AssemblerStats {
    std::uint64_t packets = 0;
    std::uint64_t rejected_packets = 0;  // OSC parse failures
    std::uint64_t rejected_messages = 0; // our addresses with bad content
    std::uint64_t ignored_messages = 0;  // other addresses (VMC, ...)
    std::uint64_t count_mismatches = 0;  // frame value count != announced names
    std::uint64_t evicted_subjects = 0;  // forgotten to make room beyond kMaxSubjects
    std::uint64_t frames = 0;
    osc::ParseError last_parse_error = osc::ParseError::kNone;
    DecodeError last_decode_error = DecodeError::kNone;
};

class FrameAssembler {
public:
    FrameAssembler();

    // Parses one datagram and appends every complete frame it carries to `frames`, in packet order.
    // Names in the same packet (bundle) apply to the frames that follow them. Returns false when
    // the packet is not valid OSC; a valid packet with nothing for us returns true.
    bool feed(const std::uint8_t* data, std::size_t size, std::vector<AssembledFrame>& frames);

    // Layout of a subject seen so far (announced or default), nullptr if unknown.
    const SubjectLayout* layout(const std::string& subject) const;
    const AssemblerStats& stats() const { return stats_; }

    // Subjects forgotten to make room since the last call, oldest first (a Live Link source removes
    // their subjects); the list is then empty until the next eviction.
    std::vector<std::string> take_evicted();

private:
    void apply_names(NamesMessage&& names);
    void apply_frame(FrameMessage&& frame, std::vector<AssembledFrame>& frames);
    SubjectLayout* layout_for(const std::string& subject, bool create_default);
    void set_layout(SubjectLayout& layout, std::vector<std::string>&& names);

    std::map<std::string, SubjectLayout> layouts_;
    std::vector<osc::Message> messages_;
    std::uint64_t next_version_ = 1;
    std::uint64_t use_count_ = 0;
    std::vector<std::string> evicted_;
    AssemblerStats stats_;
};

}  // namespace avatar_bridge
