#include "avatar_bridge/assembler.hpp"

#include <utility>

#include "avatar_bridge/channels.hpp"

namespace avatar_bridge {

FrameAssembler::FrameAssembler() { messages_.reserve(4); }

bool FrameAssembler::feed(const std::uint8_t* data, std::size_t size, std::vector<AssembledFrame>& frames) {
    ++stats_.packets;
    const osc::ParseError parse_error = osc::parse_packet(data, size, messages_);
    if (parse_error != osc::ParseError::kNone) {
        ++stats_.rejected_packets;
        stats_.last_parse_error = parse_error;
        return false;
    }
    for (const osc::Message& message : messages_) {
        if (message.address == kNamesAddress) {
            NamesMessage names;
            const DecodeError e = decode_names(message, names);
            if (e != DecodeError::kNone) {
                ++stats_.rejected_messages;
                stats_.last_decode_error = e;
                continue;
            }
            apply_names(std::move(names));
        } else if (message.address == kFrameAddress) {
            FrameMessage frame;
            const DecodeError e = decode_frame(message, frame);
            if (e != DecodeError::kNone) {
                ++stats_.rejected_messages;
                stats_.last_decode_error = e;
                continue;
            }
            apply_frame(std::move(frame), frames);
        } else {
            ++stats_.ignored_messages;
        }
    }
    return true;
}

const SubjectLayout* FrameAssembler::layout(const std::string& subject) const {
    const auto it = layouts_.find(subject);
    return it == layouts_.end() ? nullptr : &it->second;
}

SubjectLayout* FrameAssembler::layout_for(const std::string& subject, bool create_default) {
    ++use_count_;
    const auto it = layouts_.find(subject);
    if (it != layouts_.end()) {
        it->second.last_used = use_count_;
        return &it->second;
    }
    if (layouts_.size() >= kMaxSubjects) {
        auto oldest = layouts_.begin();
        for (auto candidate = layouts_.begin(); candidate != layouts_.end(); ++candidate) {
            if (candidate->second.last_used < oldest->second.last_used) {
                oldest = candidate;
            }
        }
        evicted_.push_back(oldest->first);
        layouts_.erase(oldest);
        ++stats_.evicted_subjects;
    }
    SubjectLayout& created = layouts_[subject];
    created.last_used = use_count_;
    if (create_default) {
        set_layout(created, default_channel_names());
    }
    return &created;
}

std::vector<std::string> FrameAssembler::take_evicted() {
    std::vector<std::string> out;
    out.swap(evicted_);
    return out;
}

void FrameAssembler::set_layout(SubjectLayout& layout, std::vector<std::string>&& names) {
    layout.channel_names = std::move(names);
    layout.curve_names.clear();
    layout.curve_names.reserve(layout.channel_names.size());
    for (const std::string& name : layout.channel_names) {
        layout.curve_names.push_back(curve_name_for_channel(name));
    }
    layout.has_bones = false;
    for (std::size_t j = 0; j < kJointCount; ++j) {
        layout.joint_channel[j] = -1;
        for (std::size_t i = 0; i < layout.channel_names.size(); ++i) {
            if (layout.channel_names[i] == kJointNames[j]) {
                layout.joint_channel[j] = static_cast<int>(i);
                // Breath alone moves no bone.
                layout.has_bones = layout.has_bones || kJointNames[j] != "breath";
                break;
            }
        }
    }
    layout.version = next_version_++;
}

void FrameAssembler::apply_names(NamesMessage&& names) {
    SubjectLayout* layout = layout_for(names.subject, false);
    if (layout == nullptr) {
        return;
    }
    // Re-announcements (every second) must not force Unreal to rebuild static data.
    if (layout->version != 0 && layout->channel_names == names.names) {
        return;
    }
    set_layout(*layout, std::move(names.names));
}

void FrameAssembler::apply_frame(FrameMessage&& frame, std::vector<AssembledFrame>& frames) {
    const SubjectLayout* layout = layout_for(frame.subject, true);
    if (layout == nullptr) {
        return;
    }
    // A names change whose announcement was lost: wait for the next one (sent every second).
    if (frame.values.size() != layout->channel_names.size()) {
        ++stats_.count_mismatches;
        return;
    }
    AssembledFrame out;
    out.subject = std::move(frame.subject);
    out.seq = frame.seq;
    out.t_s = frame.t_s;
    out.viseme = std::move(frame.viseme);
    out.voice = frame.voice;
    out.layout_version = layout->version;
    out.has_bones = layout->has_bones;
    if (out.has_bones) {
        std::array<float, kJointCount> joints{};
        for (std::size_t j = 0; j < kJointCount; ++j) {
            const int index = layout->joint_channel[j];
            joints[j] = index < 0 ? 0.0f : frame.values[static_cast<std::size_t>(index)];
        }
        out.bones = bones_from_joints(joints);
    }
    out.curve_values = std::move(frame.values);
    ++stats_.frames;
    frames.push_back(std::move(out));
}

}  // namespace avatar_bridge
