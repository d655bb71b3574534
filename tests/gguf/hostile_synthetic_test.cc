// Hostile GGUF input: truncated, corrupted or lying bytes must end in sobre::Error, never in a
// crash, a hang, a read past the buffer or an allocation the bytes present do not pay for.
// After leveldb's db/corruption_test.cc. Every buffer is parsed from a heap block of exactly its
// size, so the asan preset turns the first byte read past the end into a failure.
// These: synthetic files (every value type, every offset, lying counts and fields).
#include "hostile_harness.h"

namespace sobre::gguf {
namespace {

using namespace hostile;

// ---- Well-formed synthetic files -----------------------------------------------------------

class EveryType : public ::testing::TestWithParam<uint32_t> {};

TEST_P(EveryType, ParsesEveryValueTypeExactly) {
    const Bytes bytes = every_type_bytes(GetParam());
    ExactBuffer buf(bytes);
    const File f = File::parse(kLabel, buf.data(), buf.size());
    EXPECT_EQ(f.version(), GetParam());
    EXPECT_EQ(f.find("t.u8")->u, 255u);
    EXPECT_EQ(f.find("t.i8")->i, -128);
    EXPECT_EQ(f.find("t.u16")->u, 65535u);
    EXPECT_EQ(f.find("t.i16")->i, -32768);
    EXPECT_EQ(f.find("t.u32")->u, kU32Max);
    EXPECT_EQ(f.find("t.i32")->i, std::numeric_limits<int32_t>::min());
    EXPECT_EQ(f.find("t.f32")->f, -0.5);
    EXPECT_EQ(f.get_bool("t.bool0"), false);
    EXPECT_EQ(f.get_bool("t.bool1"), true);
    EXPECT_EQ(f.get_string("t.str"), "h\xc3\xa9llo");
    EXPECT_EQ(f.get_string("t.empty_str"), "");
    EXPECT_EQ(f.find("t.u64")->u, kU64Max);
    EXPECT_EQ(f.find("t.i64")->i, std::numeric_limits<int64_t>::min());
    EXPECT_EQ(f.find("t.f64")->f, 1e300);
    EXPECT_EQ(f.find("a.u8")->at(2).u, 255u);
    EXPECT_EQ(f.find("a.i8")->at(0).i, -128);
    EXPECT_EQ(f.find("a.u16")->at(1).u, 65535u);
    EXPECT_EQ(f.find("a.i16")->at(0).i, -32768);
    EXPECT_EQ(f.find("a.u32")->at(0).u, 1u);
    EXPECT_EQ(f.find("a.i32")->at(0).i, -1);
    EXPECT_EQ(f.find("a.f32")->at(1).f, -2.0);
    EXPECT_EQ(f.find("a.bool")->at(1).u, 1u);
    EXPECT_EQ(f.find("a.u64")->at(1).u, kU64Max);
    EXPECT_EQ(f.find("a.i64")->at(0).i, static_cast<int64_t>(0x8080808080808080ull));
    EXPECT_EQ(f.find("a.f64")->at(0).f, 0.0);
    EXPECT_EQ(f.find("a.empty")->size(), 0u);
    EXPECT_EQ(f.find("a.empty")->elem_type, ValueType::kF32);
    EXPECT_EQ(f.find("a.str")->strings, (std::vector<std::string>{"a", "", "ccc"}));
    const Value* arr = f.get_array("a.arr");
    ASSERT_EQ(arr->size(), 3u);
    EXPECT_EQ(arr->arrays[0].at(2).i, 3);
    EXPECT_EQ(arr->arrays[1].strings.at(0), "x");
    EXPECT_EQ(arr->arrays[2].arrays.at(0).at(0).u, 9u);
    EXPECT_EQ(arr->arrays[2].arrays.at(1).size(), 0u);
    const Value* deep = f.find("a.deep");
    for (int d = 1; d < kMaxArrayDepth; ++d) {
        ASSERT_EQ(deep->elem_type, ValueType::kArray) << d;
        ASSERT_EQ(deep->size(), 1u) << d;
        deep = &deep->arrays[0];
    }
    EXPECT_EQ(deep->at(0).u, 7u);
    for (const auto& kv : f.metadata()) EXPECT_FALSE(kv.second.to_string().empty()) << kv.first;

    ASSERT_EQ(f.tensors().size(), 3u);
    EXPECT_EQ(f.data_offset() % kDefaultAlignment, 0u);
    EXPECT_EQ(f.data_offset() + kEveryTypeData, bytes.size());
    const TensorInfo* w = f.find_tensor("w");
    EXPECT_EQ(w->n_bytes, 64u);
    EXPECT_EQ(w->data, buf.data() + f.data_offset());
    EXPECT_EQ(w->data[1], 7);
    const TensorInfo* q = f.find_tensor("q");
    EXPECT_EQ(q->type, DType::kQ8_0);
    EXPECT_EQ(q->n_bytes, 34u);
    EXPECT_EQ(q->data[0], static_cast<uint8_t>(64 * 7));
    EXPECT_EQ(f.find_tensor("z")->n_bytes, 0u);
}

INSTANTIATE_TEST_SUITE_P(Versions, EveryType, ::testing::Values(2u, 3u));

TEST(Synthetic, MetadataOnlyFileNeedsNoDataSection) {
    Builder b;
    b.kv("general.architecture", Value::of_string("llama"));
    const Bytes bytes = b.build();
    EXPECT_EQ(bytes.size(), b.header_end());
    const Outcome o = parse_copy(bytes);
    EXPECT_TRUE(o.parsed()) << o.describe();
    // The fewest bytes a GGUF can have: a header that declares nothing.
    EXPECT_TRUE(parse_copy(Builder().build()).parsed());
}

// ---- Magic and version ---------------------------------------------------------------------

TEST(Synthetic, WrongMagicIsCorrupt) {
    const Bytes good = every_type_bytes();
    const char* magics[] = {"GGUG", "GGML", "gguf", "FUGG", "GGJT", "\0\0\0\0", "\xff\xff\xff\xff"};
    for (const char* magic : magics) {
        Bytes bytes = good;
        std::memcpy(bytes.data(), magic, 4);
        const Outcome o = parse_copy(bytes);
        EXPECT_TRUE(o.corrupt()) << o.describe();
        EXPECT_TRUE(contains(o.message, "magic")) << o.message;
        EXPECT_TRUE(contains(o.message, kLabel)) << o.message;
    }
    // Shorter than the magic, down to nothing (and a null pointer with it).
    for (size_t n = 0; n < 4; ++n) {
        EXPECT_TRUE(parse_copy(std::span(good).first(n)).corrupt()) << n;
    }
    EXPECT_THROW(File::parse(kLabel, nullptr, 0), Error);
}

TEST(Synthetic, VersionsOtherThan2And3AreUnsupported) {
    const Bytes good = every_type_bytes();
    const uint32_t versions[] = {0u, 1u, 4u, 5u, 0x100u, 0x00030000u, 0x03000000u, 0x02000000u,
                                 kU32Max};
    for (const uint32_t version : versions) {
        Bytes bytes = good;
        poke<uint32_t>(bytes.data(), 4, version);
        const Outcome o = parse_copy(bytes);
        EXPECT_TRUE(o.error(ErrorKind::kUnsupported)) << version << ": " << o.describe();
        EXPECT_TRUE(contains(o.message, "version")) << o.message;
        EXPECT_TRUE(contains(o.message, "offset 4")) << o.message;
    }
    // A version 1 file (32-bit counts) is refused before its counts are read.
    Bytes v1 = {'G', 'G', 'U', 'F', 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    EXPECT_TRUE(parse_copy(v1).error(ErrorKind::kUnsupported));
}

// ---- Synthetic files, every offset ---------------------------------------------------------

TEST(Synthetic, TruncationAtEveryOffsetIsCorrupt) {
    for (const uint32_t version : {2u, 3u}) {
        const Bytes bytes = every_type_bytes(version);
        Failures fails(fmt::format("every_type v{} truncation", version));
        for (size_t cut = 0; cut < bytes.size(); ++cut) {
            const Outcome o = parse_copy(std::span(bytes).first(cut));
            if (!o.corrupt()) fails.add(fmt::format("cut {}: {}", cut, o.describe()));
            fails.check_contained(o, cut, fmt::format("cut {}", cut));
        }
        EXPECT_TRUE(parse_copy(bytes).parsed());
    }
}

TEST(Synthetic, CorruptionAtEveryOffsetIsContained) {
    const Bytes bytes = every_type_bytes();
    ExactBuffer buf(bytes);
    Failures fails("every_type corruption");
    int parsed = 0, errors = 0;
    for (size_t at = 0; at < buf.size(); ++at) {
        const uint8_t orig = buf.data()[at];
        for (const int value : {0x00, 0xff, 0x7f, 0x80, orig ^ 0x01, orig ^ 0x40}) {
            buf.data()[at] = static_cast<uint8_t>(value);
            const Outcome o = buf.parse();
            fails.check_contained(o, buf.size(), fmt::format("byte {} = {:#x}", at, value));
            (o.parsed() ? parsed : errors)++;
        }
        buf.data()[at] = orig;
    }
    // Both outcomes must occur, or the sweep is not reaching the interesting paths.
    EXPECT_GT(parsed, 0);
    EXPECT_GT(errors, 0);
}

TEST(Synthetic, HugeCountsAreCorruptAndNamed) {
    Builder b = every_type(3);
    const Bytes good = b.build(kDefaultAlignment, Bytes(kEveryTypeData));
    const uint64_t huge[] = {kU64Max, pow2(63), pow2(32), good.size(), pow2(60)};
    for (const uint64_t n : huge) {
        expect_poke_fails<uint64_t>(good, b.at("tensor_count"), n, ErrorKind::kCorrupt,
                                    {"tensor_count", "at offset 8:"});
        expect_poke_fails<uint64_t>(good, b.at("kv_count"), n, ErrorKind::kCorrupt,
                                    {"metadata_kv_count", "at offset 16:"});
        // Strings: a key, a value, an element of a string array, a tensor name.
        const size_t key_at = b.at("t.str.key");
        expect_poke_fails<uint64_t>(good, key_at, n, ErrorKind::kCorrupt,
                                    {"metadata key #9", fmt::format("at offset {}", key_at)});
        expect_poke_fails<uint64_t>(good, b.at("t.str"), n, ErrorKind::kCorrupt,
                                    {"t.str", fmt::format("offset {}", b.at("t.str"))});
        expect_poke_fails<uint64_t>(good, b.at("a.str[1]"), n, ErrorKind::kCorrupt,
                                    {"a.str", "offset"});
        expect_poke_fails<uint64_t>(good, b.at("tensor:q.name"), n, ErrorKind::kCorrupt,
                                    {"tensor #1 name", "offset"});
        // Array counts of every element kind, at the top and nested.
        for (const char* key : {"a.u8", "a.u64", "a.str", "a.arr", "a.empty", "a.bool"}) {
            expect_poke_fails<uint64_t>(good, b.at(std::string(key) + ".count"), n,
                                        ErrorKind::kCorrupt, {key, "offset"});
        }
        expect_poke_fails<uint64_t>(good, b.at("a.arr[2].count"), n, ErrorKind::kCorrupt,
                                    {"a.arr", "offset"});
        expect_poke_fails<uint64_t>(good, b.at("a.deep[0].count"), n, ErrorKind::kCorrupt,
                                    {"a.deep", "offset"});
    }
}

TEST(Synthetic, UnknownValueTypesAreCorrupt) {
    Builder b = every_type(3);
    const Bytes good = b.build(kDefaultAlignment, Bytes(kEveryTypeData));
    for (const uint32_t t : {kNumValueTypes, 14u, 0x80000008u, kU32Max}) {
        expect_poke_fails<uint32_t>(good, b.at("t.u32.type"), t, ErrorKind::kCorrupt,
                                    {"t.u32", "value type", "offset"});
        expect_poke_fails<uint32_t>(good, b.at("a.u8"), t, ErrorKind::kCorrupt,
                                    {"a.u8", "value type", "offset"});
        expect_poke_fails<uint32_t>(good, b.at("a.arr[1]"), t, ErrorKind::kCorrupt,
                                    {"a.arr", "value type", "offset"});
    }
}

TEST(Synthetic, BoolsOtherThan0Or1AreCorrupt) {
    Builder b = every_type(3);
    const Bytes good = b.build(kDefaultAlignment, Bytes(kEveryTypeData));
    for (const uint8_t v : {2, 0x7f, 0x80, 0xff}) {
        expect_poke_fails<uint8_t>(good, b.at("t.bool1"), v, ErrorKind::kCorrupt,
                                   {"t.bool1", "bool", fmt::format("offset {}", b.at("t.bool1"))});
        const size_t elem = b.at("a.bool.data") + 2;
        expect_poke_fails<uint8_t>(good, elem, v, ErrorKind::kCorrupt,
                                   {"a.bool", "bool", fmt::format("offset {}", elem)});
    }
}

TEST(Synthetic, HostileTensorInfosAreRejectedAndNamed) {
    Builder b = every_type(3);
    const Bytes good = b.build(kDefaultAlignment, Bytes(kEveryTypeData));
    for (const uint32_t n_dims : {0u, 5u, 64u, kU32Max}) {
        expect_poke_fails<uint32_t>(good, b.at("tensor:q.n_dims"), n_dims, ErrorKind::kCorrupt,
                                    {"tensor 'q'", "n_dims", "offset"});
    }
    for (const uint64_t ne : {kU64Max, pow2(63), pow2(63) + 32}) {
        expect_poke_fails<uint64_t>(good, b.at("tensor:q.ne0"), ne, ErrorKind::kCorrupt,
                                    {"tensor 'q'", "out of range", "offset"});
    }
    // Dimensions that are each in range but whose product overflows int64 or the byte count.
    {
        Bytes bytes = good;
        poke<uint64_t>(bytes.data(), b.at("tensor:w.ne0"), pow2(40));
        poke<uint64_t>(bytes.data(), b.at("tensor:w.ne1"), pow2(40));
        const Outcome o = parse_copy(bytes);
        EXPECT_TRUE(o.corrupt()) << o.describe();
        EXPECT_TRUE(contains(o.message, "tensor 'w'")) << o.message;
        EXPECT_TRUE(contains(o.message, "overflows")) << o.message;
    }
    expect_poke_fails<uint64_t>(good, b.at("tensor:w.ne0"), pow2(62), ErrorKind::kCorrupt,
                                {"tensor 'w'", "overflows"});
    expect_poke_fails<uint64_t>(good, b.at("tensor:q.ne0"), 33, ErrorKind::kCorrupt,
                                {"tensor 'q'", "block size"});
    // Unknown tensor types: ids removed from ggml, past the table, and absurd.
    int unknown = 0;
    for (uint32_t id = 0; id < kNumDTypes + 8; ++id) {
        if (dtype_known(id)) continue;
        ++unknown;
        expect_poke_fails<uint32_t>(good, b.at("tensor:w.type"), id, ErrorKind::kUnsupported,
                                    {"tensor 'w'", "type id", "offset"});
    }
    EXPECT_GT(unknown, 8);
    expect_poke_fails<uint32_t>(good, b.at("tensor:w.type"), kU32Max, ErrorKind::kUnsupported,
                                {"tensor 'w'", "type id"});
    // Offsets past the end, at the very end with bytes still owed, and off the alignment.
    const uint64_t data_size = kEveryTypeData;
    for (const uint64_t off : {kU64Max, pow2(63), kU64Max - 31, data_size, data_size + 32}) {
        expect_poke_fails<uint64_t>(good, b.at("tensor:q.offset"), off, ErrorKind::kCorrupt,
                                    {"tensor 'q'"});
    }
    expect_poke_fails<uint64_t>(good, b.at("tensor:q.offset"), 65, ErrorKind::kCorrupt,
                                {"tensor 'q'", "alignment"});
    // A zero-size tensor may sit exactly at the end of the data.
    Bytes at_end = good;
    poke<uint64_t>(at_end.data(), b.at("tensor:z.offset"), data_size);
    EXPECT_TRUE(parse_copy(at_end).parsed());
}

TEST(Synthetic, TensorDataMustFitExactly) {
    EXPECT_TRUE(parse_copy(one_tensor({}, 4, 16)).parsed());
    EXPECT_TRUE(parse_copy(one_tensor({}, 4, 15)).corrupt());
    EXPECT_TRUE(parse_copy(one_tensor({}, 4, 48, 32)).parsed());
    const Outcome o = parse_copy(one_tensor({}, 4, 47, 32));
    EXPECT_TRUE(o.corrupt()) << o.describe();
    EXPECT_TRUE(contains(o.message, "tensor 'w'")) << o.message;
    EXPECT_TRUE(contains(o.message, "past the end")) << o.message;
    // Tensor infos without any data section at all.
    Builder b;
    b.tensor("w", {4}, static_cast<uint32_t>(DType::kF32), 0);
    Bytes header_only = b.build();
    header_only.resize(b.header_end());
    EXPECT_TRUE(parse_copy(header_only).corrupt());
}

TEST(Synthetic, HostileAlignmentIsCorrupt) {
    for (const uint32_t align : {0u, 3u, 48u, 0x80000001u}) {
        const Outcome o = parse_copy(one_tensor({{"general.alignment", Value::of_u32(align)}}));
        EXPECT_TRUE(o.corrupt()) << align << ": " << o.describe();
        EXPECT_TRUE(contains(o.message, "general.alignment")) << o.message;
    }
    // A power of two, but the data section would start 2 GiB past the end of the file.
    const Outcome far = parse_copy(one_tensor({{"general.alignment", Value::of_u32(1u << 31)}}));
    EXPECT_TRUE(far.corrupt()) << far.describe();
    EXPECT_TRUE(contains(far.message, "offset")) << far.message;
    for (const Value& wrong_type : {Value::of_u64(32), Value::of_i32(32), Value::of_string("32")}) {
        const Outcome o = parse_copy(one_tensor({{"general.alignment", wrong_type}}));
        EXPECT_TRUE(o.corrupt()) << o.describe();
        EXPECT_TRUE(contains(o.message, "general.alignment")) << o.message;
    }
    // Well-formed alignments place the data where the writer put it.
    for (const uint32_t align : {1u, 64u}) {
        Builder b;
        b.kv("general.alignment", Value::of_u32(align));
        b.tensor("w", {4}, static_cast<uint32_t>(DType::kF32), 0);
        const Bytes bytes = b.build(align, Bytes(16, 1));
        ExactBuffer buf(bytes);
        const File f = File::parse(kLabel, buf.data(), buf.size());
        EXPECT_EQ(f.alignment(), align);
        EXPECT_EQ(f.data_offset(), bytes.size() - 16);
    }
}

TEST(Synthetic, DuplicatesAreCorrupt) {
    Builder keys;
    keys.kv("k", Value::of_u32(1)).kv("k", Value::of_u32(2));
    Outcome o = parse_copy(keys.build());
    EXPECT_TRUE(o.corrupt() && contains(o.message, "duplicate")) << o.describe();
    Builder tensors;
    tensors.tensor("w", {4}, 0, 0).tensor("w", {4}, 0, 32);
    o = parse_copy(tensors.build(kDefaultAlignment, Bytes(48)));
    EXPECT_TRUE(o.corrupt() && contains(o.message, "tensor 'w'")) << o.describe();
}

// The raw bytes of `levels` nested array headers, each declaring `count` elements; the
// innermost is a u8 array with the given count and then `tail` zero bytes.
Bytes nested_headers(int levels, uint64_t count, uint64_t inner_count, size_t tail) {
    Bytes raw;
    auto put = [&raw](auto v) {
        const auto* p = reinterpret_cast<const uint8_t*>(&v);
        raw.insert(raw.end(), p, p + sizeof v);
    };
    for (int l = 1; l < levels; ++l) {
        put(static_cast<uint32_t>(ValueType::kArray));
        put(count);
    }
    put(static_cast<uint32_t>(ValueType::kU8));
    put(inner_count);
    raw.resize(raw.size() + tail, 0);
    return raw;
}

TEST(Synthetic, ArraysNestedBeyondTheLimitAreCorrupt) {
    // At the limit: parses and renders.
    Builder ok;
    ok.raw_kv("deep", ValueType::kArray, nested_headers(kMaxArrayDepth, 1, 1, 1));
    Outcome o = parse_copy(ok.build());
    EXPECT_TRUE(o.parsed()) << o.describe();
    // One level more, and far more: refused before the recursion can exhaust the stack.
    for (const int levels : {kMaxArrayDepth + 1, kMaxArrayDepth + 2, 100000}) {
        Builder b;
        b.raw_kv("deep", ValueType::kArray, nested_headers(levels, 1, 1, 1));
        o = parse_copy(b.build());
        EXPECT_TRUE(o.corrupt()) << levels << ": " << o.describe();
        EXPECT_TRUE(contains(o.message, "deep") && contains(o.message, "nested")) << o.message;
        EXPECT_TRUE(contains(o.message, "offset")) << o.message;
    }
}

// Each level of a nested array may claim as many elements as the remaining bytes could hold;
// memory set aside for such claims must stay proportional to the input, not multiply by the
// nesting depth.
TEST(Synthetic, NestedCountsDoNotMultiplyMemory) {
    constexpr size_t kTail = 256 * 1024;
    for (const int levels : {2, kMaxArrayDepth}) {
        // Every level claims the largest count the bytes after it could hold.
        Builder b;
        b.raw_kv("claims", ValueType::kArray, nested_headers(levels, kTail / 12, kTail, kTail));
        const Bytes bytes = b.build();
        const Outcome o = parse_copy(bytes);
        EXPECT_TRUE(o.corrupt()) << o.describe();
        EXPECT_TRUE(heap_ok(o, bytes.size()))
            << levels << " levels: peak heap " << o.peak_heap << " bytes for a " << bytes.size()
            << "-byte input (" << o.peak_heap / static_cast<int64_t>(bytes.size()) << "x)";
    }
    // The largest legitimate expansion: a file that is one array of empty arrays.
    Builder b;
    b.raw_kv("empties", ValueType::kArray, nested_headers(2, kTail / 12, 0, kTail / 12 * 12 - 12));
    const Bytes bytes = b.build();
    const Outcome o = parse_copy(bytes);
    EXPECT_TRUE(o.parsed()) << o.describe();
    EXPECT_TRUE(heap_ok(o, bytes.size())) << "peak heap " << o.peak_heap << " for " << bytes.size();
}

}  // namespace
}  // namespace sobre::gguf
