// avatar_bridge_receive: the core behind a plain POSIX UDP socket, printing JSON lines on stdout.
// Used by the loopback tests (and handy to check what a bridge sends without Unreal):
//   avatar_bridge_receive --port 9000 [--bind 127.0.0.1] [--frames N] [--timeout-ms MS] [--format osc|livelinkface]
//   avatar_bridge_receive --decode-file packet.bin [--format osc|livelinkface]
// First line {"event":"ready","port":P} once bound; exit 0 after N frames, 3 on timeout, 2 on usage errors.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <map>
#include <string>
#include <vector>

#include "avatar_bridge/assembler.hpp"
#include "avatar_bridge/livelinkface.hpp"

namespace {

using namespace avatar_bridge;

std::string json_string(std::string_view text) {
    std::string out = "\"";
    for (const char c : text) {
        const auto u = static_cast<unsigned char>(c);
        if (c == '"' || c == '\\') {
            out += '\\';
            out += c;
        } else if (u < 0x20) {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\u%04x", u);
            out += buf;
        } else {
            out += c;
        }
    }
    return out + "\"";
}

std::string json_number(double value) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.17g", value);  // round-trips the double, so float32 values compare exactly
    return buf;
}

class Printer {
public:
    explicit Printer(bool livelinkface) : livelinkface_(livelinkface) {}

    // Returns the number of frames the packet produced.
    std::size_t handle(const std::uint8_t* data, std::size_t size) {
        return livelinkface_ ? handle_livelinkface(data, size) : handle_osc(data, size);
    }

    void print_stats() const {
        const AssemblerStats& s = assembler_.stats();
        std::printf(
            "{\"event\":\"stats\",\"packets\":%llu,\"rejected_packets\":%llu,\"rejected_messages\":%llu,"
            "\"ignored_messages\":%llu,\"count_mismatches\":%llu,\"frames\":%llu,\"last_error\":%s}\n",
            static_cast<unsigned long long>(s.packets), static_cast<unsigned long long>(s.rejected_packets),
            static_cast<unsigned long long>(s.rejected_messages), static_cast<unsigned long long>(s.ignored_messages),
            static_cast<unsigned long long>(s.count_mismatches), static_cast<unsigned long long>(s.frames),
            json_string(s.rejected_packets ? osc::to_string(s.last_parse_error)
                                           : to_string(s.last_decode_error)).c_str());
    }

private:
    std::size_t handle_osc(const std::uint8_t* data, std::size_t size) {
        frames_.clear();
        if (!assembler_.feed(data, size, frames_)) {
            std::printf("{\"event\":\"rejected\",\"reason\":%s}\n",
                        json_string(osc::to_string(assembler_.stats().last_parse_error)).c_str());
        }
        for (const AssembledFrame& f : frames_) {
            const SubjectLayout* layout = assembler_.layout(f.subject);
            if (layout == nullptr || layout->version != f.layout_version) continue;
            std::uint64_t& printed = printed_versions_[f.subject];
            if (printed != f.layout_version) {
                printed = f.layout_version;
                print_layout(f.subject, *layout);
            }
            print_frame(f, *layout);
        }
        std::fflush(stdout);
        return frames_.size();
    }

    void print_layout(const std::string& subject, const SubjectLayout& layout) const {
        std::string line = "{\"event\":\"layout\",\"subject\":" + json_string(subject) +
                           ",\"version\":" + std::to_string(layout.version) + ",\"curve_names\":[";
        for (std::size_t i = 0; i < layout.curve_names.size(); ++i) {
            line += (i ? "," : "") + json_string(layout.curve_names[i]);
        }
        line += "],\"bone_names\":[";
        if (layout.has_bones) {
            for (std::size_t i = 0; i < kBoneCount; ++i) {
                line += (i ? "," : "") + json_string(kBoneNames[i]);
            }
        }
        std::printf("%s]}\n", line.c_str());
    }

    static void print_frame(const AssembledFrame& f, const SubjectLayout& layout) {
        std::string line = "{\"event\":\"frame\",\"subject\":" + json_string(f.subject) +
                           ",\"seq\":" + std::to_string(f.seq) + ",\"t\":" + json_number(f.t_s) +
                           ",\"viseme\":" + json_string(f.viseme) + ",\"voice\":" + json_number(f.voice) +
                           ",\"layout_version\":" + std::to_string(f.layout_version) + ",\"curves\":{";
        for (std::size_t i = 0; i < f.curve_values.size(); ++i) {
            line += (i ? "," : "") + json_string(layout.curve_names[i]) + ":" + json_number(f.curve_values[i]);
        }
        line += "},\"bones\":{";
        if (f.has_bones) {
            for (std::size_t i = 0; i < kBoneCount; ++i) {
                const BoneTransform& b = f.bones[i];
                line += std::string(i ? "," : "") + json_string(kBoneNames[i]) +
                        ":{\"pitch\":" + json_number(b.pitch_deg) + ",\"yaw\":" + json_number(b.yaw_deg) +
                        ",\"roll\":" + json_number(b.roll_deg) + ",\"q\":[" + json_number(b.rotation.x) + "," +
                        json_number(b.rotation.y) + "," + json_number(b.rotation.z) + "," +
                        json_number(b.rotation.w) + "],\"t\":[" + json_number(b.translation_cm[0]) + "," +
                        json_number(b.translation_cm[1]) + "," + json_number(b.translation_cm[2]) + "]}";
            }
        }
        std::printf("%s}}\n", line.c_str());
    }

    static std::size_t handle_livelinkface(const std::uint8_t* data, std::size_t size) {
        livelinkface::Packet p;
        const livelinkface::DecodeError e = livelinkface::decode(data, size, p);
        if (e != livelinkface::DecodeError::kNone) {
            std::printf("{\"event\":\"rejected\",\"reason\":%s}\n", json_string(livelinkface::to_string(e)).c_str());
            std::fflush(stdout);
            return 0;
        }
        std::string line = "{\"event\":\"livelinkface\",\"device\":" + json_string(p.device_id) +
                           ",\"subject\":" + json_string(p.subject) + ",\"frame\":" + std::to_string(p.frame_number) +
                           ",\"subframe\":" + json_number(p.subframe) + ",\"rate\":[" +
                           std::to_string(p.rate_numerator) + "," + std::to_string(p.rate_denominator) +
                           "],\"values\":{";
        for (std::size_t i = 0; i < livelinkface::kValueCount; ++i) {
            line += (i ? "," : "") + json_string(livelinkface::kValueNames[i]) + ":" + json_number(p.values[i]);
        }
        std::printf("%s}}\n", line.c_str());
        std::fflush(stdout);
        return 1;
    }

    bool livelinkface_;
    FrameAssembler assembler_;
    std::vector<AssembledFrame> frames_;
    std::map<std::string, std::uint64_t> printed_versions_;
};

int usage(const char* why) {
    std::fprintf(stderr, "avatar_bridge_receive: %s\n", why);
    return 2;
}

}  // namespace

int main(int argc, char** argv) {
    long port = -1;
    std::string bind_address = "127.0.0.1";
    std::string decode_file;
    std::size_t frames_wanted = 0;
    long timeout_ms = 10000;
    bool livelinkface = false;
    for (int i = 1; i < argc; ++i) {
        const std::string arg = argv[i];
        if (i + 1 >= argc) return usage("missing value after an option");
        const char* value = argv[++i];
        if (arg == "--port") port = std::strtol(value, nullptr, 10);
        else if (arg == "--bind") bind_address = value;
        else if (arg == "--frames") frames_wanted = std::strtoull(value, nullptr, 10);
        else if (arg == "--timeout-ms") timeout_ms = std::strtol(value, nullptr, 10);
        else if (arg == "--decode-file") decode_file = value;
        else if (arg == "--format") livelinkface = std::string(value) == "livelinkface";
        else return usage("unknown option");
    }
    Printer printer(livelinkface);

    if (!decode_file.empty()) {
        std::ifstream in(decode_file, std::ios::binary);
        if (!in) return usage("cannot read --decode-file");
        const std::vector<std::uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        printer.handle(bytes.data(), bytes.size());
        printer.print_stats();
        return 0;
    }
    if (port < 0 || port > 65535) return usage("--port 0..65535 is required");

    const int fd = socket(AF_INET, SOCK_DGRAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(static_cast<std::uint16_t>(port));
    if (fd < 0 || inet_pton(AF_INET, bind_address.c_str(), &address.sin_addr) != 1 ||
        bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
        std::perror("avatar_bridge_receive: bind");
        return 2;
    }
    socklen_t length = sizeof address;
    getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
    std::printf("{\"event\":\"ready\",\"port\":%u}\n", unsigned{ntohs(address.sin_port)});
    std::fflush(stdout);

    // One byte more than a datagram can carry, so an oversized read is visible rather than truncated.
    std::vector<std::uint8_t> buffer(osc::kMaxPacketBytes + 1);
    std::size_t frames = 0;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    int status = 3;
    while (true) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) break;
        pollfd p{fd, POLLIN, 0};
        if (poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
        const ssize_t n = recv(fd, buffer.data(), buffer.size(), 0);
        if (n < 0) continue;
        frames += printer.handle(buffer.data(), static_cast<std::size_t>(n));
        if (frames_wanted > 0 && frames >= frames_wanted) {
            status = 0;
            break;
        }
    }
    close(fd);
    printer.print_stats();
    return status;
}
