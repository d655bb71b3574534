// Hostile GGUF input: truncated, corrupted or lying bytes must end in sobre::Error, never in a
// crash, a hang, a read past the buffer or an allocation the bytes present do not pay for.
// After leveldb's db/corruption_test.cc. Every buffer is parsed from a heap block of exactly its
// size, so the asan preset turns the first byte read past the end into a failure.
// These: the project's fixtures (a model and a vocabulary), rebuilt, truncated and corrupted.
#include "hostile_harness.h"

namespace sobre::gguf {
namespace {

using namespace hostile;

// ---- Fixtures ------------------------------------------------------------------------------

TEST(Fixture, BuilderReproducesTheFixturesByteForByte) {
    // The field offsets used below are the Builder's, so it must lay out real files exactly.
    const ModelLayout& m = model();
    EXPECT_TRUE(m.bytes == fixture(kModelPath));
    EXPECT_EQ(m.data_end, m.bytes.size());
    EXPECT_EQ(m.builder.header_end() + 7, m.data_offset);  // 7 bytes of padding to 32

    const Bytes& vocab = fixture(kVocabPath);
    const File f = File::parse("vocab", vocab.data(), vocab.size());
    EXPECT_TRUE(f.tensors().empty());
    EXPECT_TRUE(rebuild(f).build() == vocab);
}

TEST(Fixture, TruncatedModelIsCorruptAtEveryHeaderOffset) {
    const ModelLayout& m = model();
    Failures fails("llama-Q4_0 truncation");
    std::vector<size_t> cuts;
    for (size_t cut = 0; cut <= m.data_offset; ++cut) cuts.push_back(cut);
    // A stride over the data section, plus each side of every tensor's first and last byte.
    for (size_t cut = m.data_offset; cut < m.bytes.size(); cut += 1021) cuts.push_back(cut);
    for (const TensorInfo& t : m.tensors) {
        const size_t start = m.data_offset + t.offset, end = start + t.n_bytes;
        for (const size_t c : {start, start + 1, end - 1, end, end + 1}) cuts.push_back(c);
    }
    for (const size_t cut : cuts) {
        if (cut > m.bytes.size()) continue;
        const Outcome o = parse_copy(std::span(m.bytes).first(cut));
        const bool whole = cut == m.bytes.size();
        if (whole ? !o.parsed() : !o.corrupt()) {
            fails.add(fmt::format("cut {}: {}", cut, o.describe()));
        }
        fails.check_contained(o, cut, fmt::format("cut {}", cut));
    }
    EXPECT_TRUE(parse_copy(m.bytes).parsed());
}

TEST(Fixture, TruncatedVocabIsCorrupt) {
    const Bytes& vocab = fixture(kVocabPath);
    const File f = File::parse("vocab", vocab.data(), vocab.size());
    // Every offset of the vocab with its arrays cut to 24 entries (all its keys, types and
    // value shapes, at a size that allows it) ...
    const Bytes small = rebuild(f, 24).build();
    {
        Failures fails("clipped vocab truncation");
        for (size_t cut = 0; cut < small.size(); ++cut) {
            const Outcome o = parse_copy(std::span(small).first(cut));
            if (!o.corrupt()) fails.add(fmt::format("cut {}: {}", cut, o.describe()));
            fails.check_contained(o, cut, fmt::format("cut {}", cut));
        }
        EXPECT_TRUE(parse_copy(small).parsed());
    }
    // ... and a stride over the whole file, which also cuts inside its 32000-entry arrays.
    Failures fails("vocab truncation");
    for (size_t cut = 0; cut < vocab.size(); cut += vocab.size() / 61 + 1) {
        const Outcome o = parse_copy(std::span(vocab).first(cut));
        if (!o.corrupt()) fails.add(fmt::format("cut {}: {}", cut, o.describe()));
        fails.check_contained(o, cut, fmt::format("cut {}", cut));
    }
    for (size_t back = 1; back <= 64; ++back) {
        const Outcome o = parse_copy(std::span(vocab).first(vocab.size() - back));
        if (!o.corrupt()) fails.add(fmt::format("cut end-{}: {}", back, o.describe()));
    }
}

TEST(Fixture, CorruptedModelHeaderIsContained) {
    const ModelLayout& m = model();
    ExactBuffer buf(m.bytes);  // mutated in place and restored: no copy per case
    Failures fails("llama-Q4_0 corruption");
    int parsed = 0, errors = 0;
    // Every byte of the header, metadata and tensor infos, to each interesting value.
    for (size_t at = 0; at < m.data_offset; ++at) {
        const uint8_t orig = buf.data()[at];
        for (const uint8_t value : {0x00, 0xff, 0x7f, 0x80}) {
            if (value == orig) continue;
            buf.data()[at] = value;
            const Outcome o = buf.parse();
            fails.check_contained(o, buf.size(), fmt::format("byte {} = {:#x}", at, value));
            (o.parsed() ? parsed : errors)++;
        }
        buf.data()[at] = orig;
    }
    // Random bursts: a few bytes set to random values or bit-flipped at once.
    Rng rng(0x5eed0001);
    for (int round = 0; round < 3000; ++round) {
        std::vector<std::pair<size_t, uint8_t>> saved;
        const int n = 1 + static_cast<int>(rng.below(6));
        for (int k = 0; k < n; ++k) {
            const size_t at = rng.below(m.data_offset);
            saved.emplace_back(at, buf.data()[at]);
            const uint64_t r = rng.next();
            const auto flipped = static_cast<uint8_t>(buf.data()[at] ^ (1u << ((r >> 8) & 7)));
            buf.data()[at] = (r & 1) ? static_cast<uint8_t>(r >> 8) : flipped;
        }
        const Outcome o = buf.parse();
        fails.check_contained(o, buf.size(), fmt::format("burst round {}", round));
        (o.parsed() ? parsed : errors)++;
        for (auto it = saved.rbegin(); it != saved.rend(); ++it) buf.data()[it->first] = it->second;
    }
    EXPECT_GT(parsed, 0);
    EXPECT_GT(errors, 0);
    EXPECT_TRUE(buf.parse().parsed());
}

TEST(Fixture, CorruptedVocabIsContained) {
    const Bytes& vocab = fixture(kVocabPath);
    const File f = File::parse("vocab", vocab.data(), vocab.size());
    const Bytes small = rebuild(f, 24).build();
    ExactBuffer buf(small);
    Failures fails("clipped vocab corruption");
    for (size_t at = 0; at < buf.size(); ++at) {
        const uint8_t orig = buf.data()[at];
        for (const uint8_t value : {0x00, 0xff, 0x7f, 0x80}) {
            buf.data()[at] = value;
            const Outcome o = buf.parse();
            fails.check_contained(o, buf.size(), fmt::format("byte {} = {:#x}", at, value));
        }
        buf.data()[at] = orig;
    }
    // A few corruptions of the full file, aimed anywhere in its 700 KB.
    ExactBuffer full(vocab);
    Rng rng(0x5eed0002);
    for (int round = 0; round < 24; ++round) {
        const size_t at = rng.below(full.size());
        const uint8_t orig = full.data()[at];
        full.data()[at] = static_cast<uint8_t>(rng.next());
        fails.check_contained(full.parse(), full.size(), fmt::format("full vocab byte {}", at));
        full.data()[at] = orig;
    }
}

TEST(Fixture, HostileFieldsInTheModelAreNamed) {
    const ModelLayout& m = model();
    const Builder& b = m.builder;
    const uint64_t size = m.bytes.size();
    const uint64_t huge[] = {kU64Max, pow2(63), pow2(32), size};
    for (const uint64_t n : huge) {
        expect_poke_fails<uint64_t>(m.bytes, b.at("tensor_count"), n, ErrorKind::kCorrupt,
                                    {"tensor_count", "at offset 8:"});
        expect_poke_fails<uint64_t>(m.bytes, b.at("kv_count"), n, ErrorKind::kCorrupt,
                                    {"metadata_kv_count", "at offset 16:"});
        for (size_t k = 0; k < m.keys.size(); ++k) {
            const std::string& key = m.keys[k];
            const size_t at = b.at(key + ".key");
            expect_poke_fails<uint64_t>(
                m.bytes, at, n, ErrorKind::kCorrupt,
                {fmt::format("metadata key #{}", k), fmt::format("at offset {}", at)});
        }
        for (const char* key : {"general.architecture", "tokenizer.ggml.model"}) {
            expect_poke_fails<uint64_t>(m.bytes, b.at(key), n, ErrorKind::kCorrupt,
                                        {key, "offset"});
        }
        for (const char* key : {"tokenizer.ggml.tokens", "tokenizer.ggml.scores",
                                "tokenizer.ggml.token_type"}) {
            expect_poke_fails<uint64_t>(m.bytes, b.at(std::string(key) + ".count"), n,
                                        ErrorKind::kCorrupt, {key, "offset"});
        }
        for (const char* elem : {"tokenizer.ggml.tokens[0]", "tokenizer.ggml.tokens[511]"}) {
            expect_poke_fails<uint64_t>(m.bytes, b.at(elem), n, ErrorKind::kCorrupt,
                                        {"tokenizer.ggml.tokens", "offset"});
        }
    }
    for (const std::string& key : m.keys) {
        expect_poke_fails<uint32_t>(m.bytes, b.at(key + ".type"), 13u, ErrorKind::kCorrupt,
                                    {key, "value type", "offset"});
    }
    const char* bos = "tokenizer.ggml.add_bos_token";
    expect_poke_fails<uint8_t>(m.bytes, b.at(bos), 2, ErrorKind::kCorrupt, {bos, "bool", "offset"});

    for (size_t k = 0; k < m.tensors.size(); ++k) {
        const TensorInfo& t = m.tensors[k];
        const std::string p = "tensor:" + t.name, named = "tensor '" + t.name + "'";
        expect_poke_fails<uint64_t>(m.bytes, b.at(p + ".name"), size, ErrorKind::kCorrupt,
                                    {fmt::format("tensor #{} name", k), "offset"});
        for (const uint32_t n_dims : {0u, 5u, kU32Max}) {
            expect_poke_fails<uint32_t>(m.bytes, b.at(p + ".n_dims"), n_dims, ErrorKind::kCorrupt,
                                        {named, "n_dims", "offset"});
        }
        const std::string last_dim = p + ".ne" + std::to_string(t.n_dims - 1);
        expect_poke_fails<uint64_t>(m.bytes, b.at(last_dim), kU64Max, ErrorKind::kCorrupt,
                                    {named, "out of range", "offset"});
        // Each dimension large but in range: the shape or its byte size overflows, or the
        // tensor runs past the end of the file.
        for (const uint64_t ne : {pow2(62), pow2(40), size}) {
            expect_poke_fails<uint64_t>(m.bytes, b.at(last_dim), ne, ErrorKind::kCorrupt, {named});
        }
        if (dtype_traits(t.type).block_elems > 1) {
            expect_poke_fails<uint64_t>(m.bytes, b.at(p + ".ne0"), t.ne[0] + 1, ErrorKind::kCorrupt,
                                        {named, "block size", "offset"});
        }
        for (const uint32_t id : {4u, 5u, 31u, kNumDTypes, 1000u, kU32Max}) {
            expect_poke_fails<uint32_t>(m.bytes, b.at(p + ".type"), id, ErrorKind::kUnsupported,
                                        {named, "type id", "offset"});
        }
        for (const uint64_t off : {kU64Max, pow2(63), size, t.offset + 1, t.offset + 32 + size}) {
            expect_poke_fails<uint64_t>(m.bytes, b.at(p + ".offset"), off, ErrorKind::kCorrupt,
                                        {named});
        }
    }
}

// A count may claim as many entries as the rest of the file could hold, and in a model the rest
// is mostly tensor data. Memory must follow the entries actually parsed, or a corrupted count in
// a multi-gigabyte model reserves gigabytes (std::bad_alloc, or the OOM killer) before the
// parse fails.
TEST(Fixture, ClaimedCountsDoNotReserveForTheDataSection) {
    const ModelLayout& m = model();
    const Builder& b = m.builder;
    const int64_t bound = kHeapFactor * static_cast<int64_t>(m.data_offset) + kHeapSlack;
    // The largest claims that pass the "fits in the bytes remaining" checks.
    const uint64_t after_counts = m.bytes.size() - 24;
    const size_t tokens_count = b.at("tokenizer.ggml.tokens.count");
    const struct {
        const char* field;
        size_t at;
        uint64_t claim;
    } claims[] = {
        {"metadata_kv_count", b.at("kv_count"), after_counts / (8 + 4 + 1)},
        {"tensor_count", b.at("tensor_count"), after_counts / (8 + 4 + 8 + 4 + 8)},
        {"tokenizer.ggml.tokens count", tokens_count, (m.bytes.size() - tokens_count - 8) / 8},
    };
    for (const auto& c : claims) {
        Bytes bytes = m.bytes;
        poke<uint64_t>(bytes.data(), c.at, c.claim);
        const Outcome o = parse_copy(bytes);
        EXPECT_TRUE(o.corrupt()) << c.field << ": " << o.describe();
        EXPECT_LE(o.peak_heap, bound)
            << c.field << " = " << c.claim << ": peak heap " << o.peak_heap << " bytes for "
            << m.data_offset << " bytes of header and metadata";
    }
}

TEST(Fixture, OpenReportsTruncatedAndEmptyFiles) {
    const auto dir = std::filesystem::temp_directory_path() /
                     ("sobre_hostile_" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    const ModelLayout& m = model();
    struct Case {
        const char* name;
        size_t size;
    };
    for (const Case c : {Case{"empty.gguf", 0}, Case{"magic.gguf", 4},
                         Case{"header.gguf", static_cast<size_t>(m.data_offset) - 1},
                         Case{"data.gguf", m.bytes.size() - 1}}) {
        const std::string path = (dir / c.name).string();
        std::ofstream(path, std::ios::binary)
            .write(reinterpret_cast<const char*>(m.bytes.data()),
                   static_cast<std::streamsize>(c.size));
        try {
            File::open(path);
            ADD_FAILURE() << c.name << " opened";
        } catch (const Error& e) {
            EXPECT_EQ(e.kind(), ErrorKind::kCorrupt) << e.what();
            EXPECT_TRUE(contains(e.what(), path)) << e.what();
        }
    }
    try {
        File::open(dir.string());  // a directory, not a file
        ADD_FAILURE() << "a directory opened";
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::kIo) << e.what();
    }
    std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace sobre::gguf
