// Random and mutated packets through every decoder. Run under ASan/UBSan (the test configuration),
// any out-of-bounds read or undefined behaviour aborts the run. Longer runs:
// AVATAR_BRIDGE_FUZZ_ITERATIONS=1000000 AVATAR_BRIDGE_FUZZ_SEED=7 ./core_tests "[fuzz]"
#include <catch2/catch.hpp>

#include <cstdlib>
#include <random>

#include "avatar_bridge/assembler.hpp"
#include "avatar_bridge/channels.hpp"
#include "avatar_bridge/livelinkface.hpp"
#include "packet_builder.hpp"

using namespace avatar_bridge;
using test_support::Bytes;

namespace {

std::size_t env_or(const char* name, std::size_t fallback) {
    const char* text = std::getenv(name);
    return text == nullptr ? fallback : static_cast<std::size_t>(std::strtoull(text, nullptr, 10));
}

std::vector<Bytes> seed_corpus() {
    const auto names = default_channel_names();
    std::vector<float> values(names.size());
    for (std::size_t i = 0; i < values.size(); ++i) values[i] = static_cast<float>(i) * 0.01f;
    std::array<float, 61> llf{};
    llf[17] = 0.5f;
    const Bytes n = test_support::names_message("avatar", names);
    const Bytes f = test_support::frame_message("avatar", 1, 0.1f, "aa", 0.5f, values);
    return {
        n,
        f,
        test_support::bundle({n, f}),
        test_support::bundle({test_support::bundle({f}), test_support::OscMessage("/x").b({1, 2, 3}).d(2).bytes()}),
        test_support::names_message("s", {"jawOpen", "jaw_open_rad"}),
        test_support::frame_message("s", 2, 0.2f, "PP", 1.0f, {0.1f, 0.2f}),
        test_support::livelinkface_packet("device", "subject", 10, 0.0f, 60, 1, llf),
    };
}

// Checks that everything a successful parse hands out points inside the packet.
void check_views(const Bytes& packet, const std::vector<osc::Message>& messages) {
    const auto* begin = reinterpret_cast<const char*>(packet.data());
    const auto* end = begin + packet.size();
    const auto inside = [&](const char* p, std::size_t n) { return p >= begin && p + n <= end; };
    for (const osc::Message& m : messages) {
        REQUIRE(!m.address.empty());
        REQUIRE(m.address.front() == '/');
        REQUIRE(inside(m.address.data(), m.address.size()));
        REQUIRE(m.arguments.size() == m.type_tags.size());
        for (const osc::Argument& arg : m.arguments) {
            if (arg.tag == 's' || arg.tag == 'S') REQUIRE(inside(arg.text.data(), arg.text.size()));
            if (arg.tag == 'b') REQUIRE(inside(reinterpret_cast<const char*>(arg.blob), arg.blob_size));
        }
    }
}

struct Outcome {
    std::size_t accepted = 0;
    std::size_t rejected = 0;
    std::size_t frames = 0;
};

void run_all_decoders(const Bytes& packet, FrameAssembler& assembler, Outcome& outcome) {
    std::vector<osc::Message> messages;
    if (osc::parse_packet(packet.data(), packet.size(), messages) == osc::ParseError::kNone) {
        ++outcome.accepted;
        check_views(packet, messages);
    } else {
        ++outcome.rejected;
        REQUIRE(messages.empty());
    }
    std::vector<AssembledFrame> frames;
    assembler.feed(packet.data(), packet.size(), frames);
    for (const AssembledFrame& f : frames) {
        const SubjectLayout* layout = assembler.layout(f.subject);
        REQUIRE(layout != nullptr);
        if (layout->version == f.layout_version) REQUIRE(f.curve_values.size() == layout->curve_names.size());
    }
    outcome.frames += frames.size();
    livelinkface::Packet llf;
    livelinkface::decode(packet.data(), packet.size(), llf);
}

Bytes mutate(Bytes p, std::mt19937_64& rng) {
    std::uniform_int_distribution<int> kind(0, 6);
    const auto pick = [&](std::size_t n) { return std::uniform_int_distribution<std::size_t>(0, n - 1)(rng); };
    const int rounds = 1 + static_cast<int>(pick(4));
    for (int r = 0; r < rounds && !p.empty(); ++r) {
        switch (kind(rng)) {
            case 0:  // bit flip
                p[pick(p.size())] ^= static_cast<std::uint8_t>(1u << pick(8));
                break;
            case 1: {  // interesting byte
                static constexpr std::uint8_t kBytes[] = {0, 0xFF, 0x80, 0x7F, '/', ',', '#', 's', 'b', 'f'};
                p[pick(p.size())] = kBytes[pick(sizeof kBytes)];
                break;
            }
            case 2:  // truncate
                p.resize(pick(p.size()));
                break;
            case 3: {  // aligned 32-bit field overwritten with an extreme length or count
                static constexpr std::uint32_t kWords[] = {0, 1, 3, 4, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF, 0xFFFC, 65536};
                const std::size_t at = pick(p.size()) & ~std::size_t{3};
                const std::uint32_t w = kWords[pick(sizeof kWords / sizeof kWords[0])];
                for (std::size_t k = 0; k < 4 && at + k < p.size(); ++k) {
                    p[at + k] = static_cast<std::uint8_t>(w >> (24 - 8 * k));
                }
                break;
            }
            case 4: {  // duplicate a chunk
                const std::size_t at = pick(p.size());
                const std::size_t n = std::min<std::size_t>(p.size() - at, 1 + pick(64));
                const Bytes chunk(p.begin() + static_cast<std::ptrdiff_t>(at),
                                  p.begin() + static_cast<std::ptrdiff_t>(at + n));
                p.insert(p.begin() + static_cast<std::ptrdiff_t>(pick(p.size())), chunk.begin(), chunk.end());
                break;
            }
            case 5: {  // delete a chunk
                const std::size_t at = pick(p.size());
                const std::size_t n = std::min<std::size_t>(p.size() - at, 1 + pick(16));
                p.erase(p.begin() + static_cast<std::ptrdiff_t>(at), p.begin() + static_cast<std::ptrdiff_t>(at + n));
                break;
            }
            default:  // pad or cut to a multiple of four so the deeper parser is reached
                p.resize(p.size() & ~std::size_t{3});
                break;
        }
    }
    return p;
}

}  // namespace

TEST_CASE("mutated valid packets never crash and are accepted whole or not at all", "[fuzz]") {
    const std::size_t iterations = env_or("AVATAR_BRIDGE_FUZZ_ITERATIONS", 20000);
    std::mt19937_64 rng(env_or("AVATAR_BRIDGE_FUZZ_SEED", 20240601));
    const std::vector<Bytes> corpus = seed_corpus();
    FrameAssembler assembler;
    Outcome outcome;
    for (std::size_t i = 0; i < iterations; ++i) {
        run_all_decoders(mutate(corpus[i % corpus.size()], rng), assembler, outcome);
    }
    INFO("accepted " << outcome.accepted << " rejected " << outcome.rejected << " frames " << outcome.frames);
    // Both outcomes must occur, or the mutations are not exercising the parser.
    CHECK(outcome.accepted > iterations / 100);
    CHECK(outcome.rejected > iterations / 2);
    CHECK(assembler.stats().packets == iterations);
}

TEST_CASE("random bytes never crash", "[fuzz]") {
    const std::size_t iterations = env_or("AVATAR_BRIDGE_FUZZ_ITERATIONS", 20000);
    std::mt19937_64 rng(env_or("AVATAR_BRIDGE_FUZZ_SEED", 20240601) + 1);
    std::uniform_int_distribution<std::size_t> length(0, 512);
    std::uniform_int_distribution<int> byte(0, 255);
    static constexpr char kBundle[8] = {'#', 'b', 'u', 'n', 'd', 'l', 'e', '\0'};
    FrameAssembler assembler;
    Outcome outcome;
    for (std::size_t i = 0; i < iterations; ++i) {
        Bytes p(length(rng) & ~std::size_t{3});
        for (auto& b : p) b = static_cast<std::uint8_t>(byte(rng));
        // Give some packets a plausible start so the parser gets past the first checks.
        if (i % 3 == 0 && !p.empty()) p[0] = '/';
        if (i % 3 == 1 && p.size() >= 16) std::copy(kBundle, kBundle + 8, p.begin());
        if (i % 7 == 0 && !p.empty()) p[0] = 6;
        run_all_decoders(p, assembler, outcome);
    }
    CHECK(outcome.accepted + outcome.rejected == iterations);
    CHECK(outcome.rejected > 0);
}
