// Hostile GGUF input: truncated, corrupted or lying bytes must end in sobre::Error, never in a
// crash, a hang, a read past the buffer or an allocation the bytes present do not pay for.
// After leveldb's db/corruption_test.cc. Every buffer is parsed from a heap block of exactly its
// size, so the asan preset turns the first byte read past the end into a failure.
#include <gtest/gtest.h>
#include <malloc.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <memory>
#include <new>
#include <span>
#include <stdexcept>
#include <string>
#include <typeinfo>
#include <vector>

#include "core/dtype.h"
#include "core/error.h"
#include "gguf/reader.h"
#include "gguf/value.h"

// ---- Heap meter ---------------------------------------------------------------------------
// Global operator new/delete replaced for this test binary so a parse's peak live heap can be
// compared with the size of its input: a count that lies must not buy memory the file's bytes
// do not back, even where the allocation would succeed lazily under overcommit. Sizes come from
// malloc_usable_size so new and delete agree without a header; only the arming thread counts.

namespace {

thread_local bool t_metering = false;
thread_local int64_t t_live = 0;
thread_local int64_t t_peak = 0;

void* metered_alloc(std::size_t n) {
    void* p = std::malloc(n ? n : 1);
    if (!p) throw std::bad_alloc();
    if (t_metering) {
        t_live += static_cast<int64_t>(malloc_usable_size(p));
        t_peak = std::max(t_peak, t_live);
    }
    return p;
}

void metered_free(void* p) noexcept {
    if (p && t_metering) t_live -= static_cast<int64_t>(malloc_usable_size(p));
    std::free(p);
}

}  // namespace

void* operator new(std::size_t n) { return metered_alloc(n); }
void* operator new[](std::size_t n) { return metered_alloc(n); }
void operator delete(void* p) noexcept { metered_free(p); }
void operator delete[](void* p) noexcept { metered_free(p); }
void operator delete(void* p, std::size_t) noexcept { metered_free(p); }
void operator delete[](void* p, std::size_t) noexcept { metered_free(p); }

namespace sobre::gguf {
namespace {

using Bytes = std::vector<uint8_t>;

constexpr uint64_t kU64Max = std::numeric_limits<uint64_t>::max();
constexpr uint32_t kU32Max = std::numeric_limits<uint32_t>::max();
constexpr uint64_t pow2(int n) { return uint64_t{1} << n; }

// The legitimate worst case is an array of empty arrays: 12 bytes on disk become one Value
// (about 150 bytes), and vector growth can briefly double that. Anything beyond is memory
// bought by a claimed count rather than by bytes present.
constexpr int64_t kHeapFactor = 32;
constexpr int64_t kHeapSlack = 1 << 20;

class HeapMeter {
   public:
    HeapMeter() {
        t_live = 0;
        t_peak = 0;
        t_metering = true;
    }
    ~HeapMeter() { t_metering = false; }
    int64_t peak() const { return t_peak; }
};

// ---- Parsing one case ----------------------------------------------------------------------

struct Outcome {
    enum class Status { kParsed, kError, kOther };
    Status status = Status::kOther;
    ErrorKind kind = ErrorKind::kCorrupt;
    std::string message;
    int64_t peak_heap = 0;

    bool parsed() const { return status == Status::kParsed; }
    bool error(ErrorKind k) const { return status == Status::kError && kind == k; }
    bool corrupt() const { return error(ErrorKind::kCorrupt); }
    std::string describe() const {
        switch (status) {
            case Status::kParsed: return "parsed";
            case Status::kError:
                return fmt::format("Error(kind {}): {}", static_cast<int>(kind), message);
            case Status::kOther: return "NOT a sobre::Error: " + message;
        }
        return "?";
    }
};

constexpr const char* kLabel = "hostile.gguf";

// Uses a parsed file the way a loader would, so views that point outside the buffer or values
// that cannot be rendered are found here (and by ASan) rather than in a later consumer.
void walk(const File& f, const uint8_t* data, size_t size) {
    const auto base = reinterpret_cast<uintptr_t>(data);
    volatile uint64_t sink = 0;
    if (!f.tensors().empty() && f.data_offset() > size) {
        throw std::logic_error(fmt::format("data offset {} past size {}", f.data_offset(), size));
    }
    for (const TensorInfo& t : f.tensors()) {
        const auto p = reinterpret_cast<uintptr_t>(t.data);
        if (p < base || p - base > size || t.n_bytes > size - (p - base)) {
            throw std::logic_error("tensor '" + t.name + "' view lies outside the buffer");
        }
        if (t.n_bytes > 0) sink = sink + t.data[0] + t.data[t.n_bytes - 1];
        sink = sink + t.shape_string().size();
    }
    for (const auto& [key, v] : f.metadata()) {
        sink = sink + key.size() + v.to_string().size();
        if (v.type == ValueType::kArray && v.size() > 0) {
            sink = sink + v.at(v.size() - 1).to_string().size();
        }
    }
}

// Parses `data[0, size)` in place; the caller guarantees it is a heap block of exactly `size`.
Outcome parse_in_place(const uint8_t* data, size_t size) {
    Outcome out;
    HeapMeter meter;
    try {
        const File f = File::parse(kLabel, data, size);
        walk(f, data, size);
        out.status = Outcome::Status::kParsed;
    } catch (const Error& e) {
        out.status = Outcome::Status::kError;
        out.kind = e.kind();
        out.message = e.what();
    } catch (const std::exception& e) {
        out.message = std::string(typeid(e).name()) + ": " + e.what();
    } catch (...) {
        out.message = "unknown exception";
    }
    out.peak_heap = meter.peak();
    return out;
}

// A heap block of exactly n bytes (new[] adds nothing for uint8_t), unlike a vector whose
// capacity may run past its size and hide an over-read from ASan.
class ExactBuffer {
   public:
    explicit ExactBuffer(std::span<const uint8_t> bytes)
        : size_(bytes.size()), data_(new uint8_t[bytes.size()]) {
        if (size_ > 0) std::memcpy(data_.get(), bytes.data(), size_);
    }
    uint8_t* data() { return data_.get(); }
    size_t size() const { return size_; }
    Outcome parse() { return parse_in_place(data_.get(), size_); }

   private:
    size_t size_;
    std::unique_ptr<uint8_t[]> data_;
};

Outcome parse_copy(std::span<const uint8_t> bytes) { return ExactBuffer(bytes).parse(); }

bool heap_ok(const Outcome& o, size_t input_size) {
    return o.peak_heap <= kHeapFactor * static_cast<int64_t>(input_size) + kHeapSlack;
}

// Reports the first few failing cases of a sweep and then only a count, so one broken check
// does not print thousands of lines.
class Failures {
   public:
    explicit Failures(std::string sweep) : sweep_(std::move(sweep)) {}
    ~Failures() {
        if (n_ > kShown) ADD_FAILURE() << sweep_ << ": " << n_ - kShown << " more failing cases";
    }
    void add(const std::string& what) {
        if (++n_ <= kShown) ADD_FAILURE() << sweep_ << ": " << what;
    }
    // Every sweep case must end in a parse or an Error and stay within the heap bound.
    void check_contained(const Outcome& o, size_t size, const std::string& what) {
        if (!o.parsed() && o.status != Outcome::Status::kError) add(what + ": " + o.describe());
        if (!heap_ok(o, size)) {
            add(fmt::format("{}: peak heap {} bytes for {} input bytes", what, o.peak_heap, size));
        }
    }

   private:
    static constexpr int kShown = 10;
    std::string sweep_;
    int n_ = 0;
};

// Deterministic on every platform (splitmix64), unlike the std distributions.
class Rng {
   public:
    explicit Rng(uint64_t seed) : state_(seed) {}
    uint64_t next() {
        uint64_t z = (state_ += 0x9e3779b97f4a7c15ull);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
        return z ^ (z >> 31);
    }
    uint64_t below(uint64_t n) { return next() % n; }

   private:
    uint64_t state_;
};

template <class T>
void poke(uint8_t* buf, size_t at, T v) {
    std::memcpy(buf + at, &v, sizeof v);
}

template <class T>
T peek(const uint8_t* buf, size_t at) {
    T v;
    std::memcpy(&v, buf + at, sizeof v);
    return v;
}

bool contains(const std::string& s, const std::string& part) {
    return s.find(part) != std::string::npos;
}

// ---- Hand-written serializer ---------------------------------------------------------------

// Writes GGUF without gguf::Writer (so a shared bug cannot hide) and records the offset of each
// field, so a test can aim a corruption at "tokenizer.ggml.tokens.count" instead of at a number.
// Field names: magic, version, tensor_count, kv_count; for a key K: K.key (its length), K.type, K
// (the value, a string's length, or an array's element type), K.count, K.data (packed scalars),
// K[i] (an element's length or element type, for the first few and the last element); for a
// tensor N: tensor:N.name, .n_dims, .ne0 ... .ne3, .type, .offset.
class Builder {
   public:
    explicit Builder(uint32_t version = 3) : version_(version) {}

    Builder& kv(std::string key, Value v) {
        kvs_.push_back({std::move(key), std::move(v), {}});
        return *this;
    }
    // A value whose bytes (after the type id) are given verbatim, for shapes Value cannot hold.
    Builder& raw_kv(std::string key, ValueType type, Bytes value_bytes) {
        Value v;
        v.type = type;
        kvs_.push_back({std::move(key), std::move(v), std::move(value_bytes)});
        return *this;
    }
    Builder& tensor(std::string name, std::vector<uint64_t> ne, uint32_t type, uint64_t offset) {
        tensors_.push_back({std::move(name), std::move(ne), type, offset});
        return *this;
    }

    // Header, metadata and tensor infos; when there are tensors, zero padding to `alignment`
    // and then `data`.
    Bytes build(uint64_t alignment = kDefaultAlignment, std::span<const uint8_t> data = {}) {
        out_.clear();
        at_.clear();
        put_raw("magic", "GGUF", 4);
        put<uint32_t>("version", version_);
        put<uint64_t>("tensor_count", tensors_.size());
        put<uint64_t>("kv_count", kvs_.size());
        for (const Kv& kv : kvs_) {
            put_string(kv.key + ".key", kv.key);
            put<uint32_t>(kv.key + ".type", static_cast<uint32_t>(kv.value.type));
            if (kv.type_is_raw()) {
                put_raw(kv.key, kv.raw.data(), kv.raw.size());
            } else {
                put_value(kv.key, kv.value);
            }
        }
        for (const TensorSpec& t : tensors_) {
            const std::string p = "tensor:" + t.name;
            put_string(p + ".name", t.name);
            put<uint32_t>(p + ".n_dims", static_cast<uint32_t>(t.ne.size()));
            for (size_t d = 0; d < t.ne.size(); ++d) {
                put<uint64_t>(p + ".ne" + std::to_string(d), t.ne[d]);
            }
            put<uint32_t>(p + ".type", t.type);
            put<uint64_t>(p + ".offset", t.offset);
        }
        header_end_ = out_.size();
        if (!tensors_.empty() && alignment > 0) {
            out_.resize((out_.size() + alignment - 1) / alignment * alignment, 0);
        }
        out_.insert(out_.end(), data.begin(), data.end());
        return out_;
    }

    // Offset of a field in the last build; throws for a name that was not recorded, which
    // fails the test that asked.
    size_t at(const std::string& field) const {
        const auto it = at_.find(field);
        if (it == at_.end()) throw std::out_of_range("no field " + field);
        return it->second;
    }
    // End of the tensor infos in the last build (where the padding starts).
    size_t header_end() const { return header_end_; }

   private:
    struct Kv {
        std::string key;
        Value value;
        Bytes raw;
        bool type_is_raw() const { return !raw.empty(); }
    };
    struct TensorSpec {
        std::string name;
        std::vector<uint64_t> ne;
        uint32_t type;
        uint64_t offset;
    };
    static constexpr size_t kRecordedElems = 4;

    void record(const std::string& field) {
        if (!field.empty()) at_[field] = out_.size();
    }
    void put_raw(const std::string& field, const void* p, size_t n) {
        record(field);
        const auto* b = static_cast<const uint8_t*>(p);
        out_.insert(out_.end(), b, b + n);
    }
    template <class T>
    void put(const std::string& field, T v) {
        put_raw(field, &v, sizeof v);
    }
    void put_string(const std::string& field, const std::string& s) {
        put<uint64_t>(field, s.size());
        put_raw({}, s.data(), s.size());
    }
    static std::string elem_field(const std::string& field, size_t k, size_t n) {
        return field.empty() || (k >= kRecordedElems && k + 1 != n)
                   ? std::string()
                   : field + "[" + std::to_string(k) + "]";
    }
    void put_value(const std::string& field, const Value& v) {
        switch (v.type) {
            case ValueType::kU8: put<uint8_t>(field, static_cast<uint8_t>(v.u)); break;
            case ValueType::kI8: put<int8_t>(field, static_cast<int8_t>(v.i)); break;
            case ValueType::kU16: put<uint16_t>(field, static_cast<uint16_t>(v.u)); break;
            case ValueType::kI16: put<int16_t>(field, static_cast<int16_t>(v.i)); break;
            case ValueType::kU32: put<uint32_t>(field, static_cast<uint32_t>(v.u)); break;
            case ValueType::kI32: put<int32_t>(field, static_cast<int32_t>(v.i)); break;
            case ValueType::kU64: put<uint64_t>(field, v.u); break;
            case ValueType::kI64: put<int64_t>(field, v.i); break;
            case ValueType::kF32: put<float>(field, static_cast<float>(v.f)); break;
            case ValueType::kF64: put<double>(field, v.f); break;
            case ValueType::kBool: put<uint8_t>(field, static_cast<uint8_t>(v.u)); break;
            case ValueType::kString: put_string(field, v.s); break;
            case ValueType::kArray: put_array(field, v); break;
        }
    }
    // An array body: element type, count, elements (a nested array repeats the body without a
    // type id of its own).
    void put_array(const std::string& field, const Value& v) {
        put<uint32_t>(field, static_cast<uint32_t>(v.elem_type));
        const size_t n = v.size();
        put<uint64_t>(field.empty() ? field : field + ".count", n);
        if (v.elem_type == ValueType::kString) {
            for (size_t k = 0; k < n; ++k) put_string(elem_field(field, k, n), v.strings[k]);
        } else if (v.elem_type == ValueType::kArray) {
            for (size_t k = 0; k < n; ++k) put_array(elem_field(field, k, n), v.arrays[k]);
        } else {
            put_raw(field.empty() ? field : field + ".data", v.packed.data(), v.packed.size());
        }
    }

    uint32_t version_;
    std::vector<Kv> kvs_;
    std::vector<TensorSpec> tensors_;
    Bytes out_;
    std::map<std::string, size_t> at_;
    size_t header_end_ = 0;
};

Value scalar_of(ValueType t, uint64_t u, int64_t i = 0, double f = 0) {
    Value v;
    v.type = t;
    v.u = u;
    v.i = i;
    v.f = f;
    return v;
}

Value packed_of(ValueType elem, Bytes bytes) {
    Value v;
    v.type = ValueType::kArray;
    v.elem_type = elem;
    v.packed = std::move(bytes);
    return v;
}

Value arrays_of(std::vector<Value> elems) {
    Value v;
    v.type = ValueType::kArray;
    v.elem_type = ValueType::kArray;
    v.arrays = std::move(elems);
    return v;
}

// `depth` levels of arrays, the innermost a u8 array holding {7}.
Value nested(int depth) {
    Value v = packed_of(ValueType::kU8, {7});
    for (int d = 1; d < depth; ++d) v = arrays_of({std::move(v)});
    return v;
}

// Keeps the first `n` elements of every array, so a big fixture's metadata shrinks to a
// buffer small enough to corrupt at every offset.
Value clipped(Value v, size_t n) {
    if (v.type != ValueType::kArray) return v;
    if (v.strings.size() > n) v.strings.resize(n);
    if (v.arrays.size() > n) v.arrays.resize(n);
    for (Value& a : v.arrays) a = clipped(std::move(a), n);
    const size_t sz = value_type_size(v.elem_type);
    if (sz > 0 && v.packed.size() > n * sz) v.packed.resize(n * sz);
    return v;
}

// ---- Fixtures ------------------------------------------------------------------------------

const std::string kFixtures = SOBRE_FIXTURES_DIR;
constexpr const char* kModelPath = "/models/llama-Q4_0.gguf";
constexpr const char* kVocabPath = "/vocab/ggml-vocab-llama-spm.gguf";

const Bytes& fixture(const std::string& rel) {
    static std::map<std::string, Bytes> cache;
    auto it = cache.find(rel);
    if (it == cache.end()) {
        std::ifstream in(kFixtures + rel, std::ios::binary);
        if (!in) throw std::runtime_error("cannot read fixture " + kFixtures + rel);
        Bytes b((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        it = cache.emplace(rel, std::move(b)).first;
    }
    return it->second;
}

// Rebuilds a parsed file with the Builder; arrays are kept whole unless `clip` is given.
Builder rebuild(const File& f, size_t clip = std::numeric_limits<size_t>::max()) {
    Builder b(f.version());
    for (const auto& [key, v] : f.metadata()) b.kv(key, clipped(v, clip));
    for (const TensorInfo& t : f.tensors()) {
        std::vector<uint64_t> ne(t.ne, t.ne + t.n_dims);
        b.tensor(t.name, ne, static_cast<uint32_t>(t.type), t.offset);
    }
    return b;
}

// The model fixture with its Builder, whose field offsets are valid for the fixture's bytes
// because Fixture.BuilderReproducesTheFixturesByteForByte checks that rebuilding gives them.
struct ModelLayout {
    Builder builder;
    Bytes bytes;
    uint64_t data_offset = 0;
    uint64_t data_end = 0;  // end of the last tensor's bytes
    std::vector<TensorInfo> tensors;
    std::vector<std::string> keys;
};

const ModelLayout& model() {
    static const ModelLayout layout = [] {
        const Bytes& bytes = fixture(kModelPath);
        const File f = File::parse("model", bytes.data(), bytes.size());
        ModelLayout m{rebuild(f), {}, f.data_offset(), f.data_offset(), f.tensors(), {}};
        m.bytes = m.builder.build(f.alignment(),
                                  std::span(bytes).subspan(static_cast<size_t>(f.data_offset())));
        for (const TensorInfo& t : f.tensors()) {
            m.data_end = std::max(m.data_end, f.data_offset() + t.offset + t.n_bytes);
        }
        for (const auto& kv : f.metadata()) m.keys.push_back(kv.first);
        return m;
    }();
    return layout;
}

// ---- Synthetic files -----------------------------------------------------------------------

// One key of every value type (boundary values), arrays of every element type including
// strings and arrays of arrays, and tensors of a plain and a block type.
Builder every_type(uint32_t version) {
    Builder b(version);
    b.kv("t.u8", scalar_of(ValueType::kU8, 255))
        .kv("t.i8", scalar_of(ValueType::kI8, 0, -128))
        .kv("t.u16", scalar_of(ValueType::kU16, 65535))
        .kv("t.i16", scalar_of(ValueType::kI16, 0, -32768))
        .kv("t.u32", Value::of_u32(kU32Max))
        .kv("t.i32", Value::of_i32(std::numeric_limits<int32_t>::min()))
        .kv("t.f32", Value::of_f32(-0.5f))
        .kv("t.bool0", Value::of_bool(false))
        .kv("t.bool1", Value::of_bool(true))
        .kv("t.str", Value::of_string("h\xc3\xa9llo"))
        .kv("t.empty_str", Value::of_string(""))
        .kv("t.u64", Value::of_u64(kU64Max))
        .kv("t.i64", scalar_of(ValueType::kI64, 0, std::numeric_limits<int64_t>::min()))
        .kv("t.f64", scalar_of(ValueType::kF64, 0, 0, 1e300))
        .kv("a.u8", packed_of(ValueType::kU8, {1, 2, 255}))
        .kv("a.i8", packed_of(ValueType::kI8, {0x80, 0x7f}))
        .kv("a.u16", packed_of(ValueType::kU16, {1, 0, 0xff, 0xff}))
        .kv("a.i16", packed_of(ValueType::kI16, {0, 0x80}))
        .kv("a.u32", packed_of(ValueType::kU32, {1, 0, 0, 0}))
        .kv("a.i32", Value::of_i32s({-1, 0, 7}))
        .kv("a.f32", Value::of_f32s({1.5f, -2.0f}))
        .kv("a.bool", packed_of(ValueType::kBool, {0, 1, 1}))
        .kv("a.u64", packed_of(ValueType::kU64, Bytes(16, 0xff)))
        .kv("a.i64", packed_of(ValueType::kI64, Bytes(8, 0x80)))
        .kv("a.f64", packed_of(ValueType::kF64, Bytes(8, 0)))
        .kv("a.empty", packed_of(ValueType::kF32, {}))
        .kv("a.str", Value::of_strings({"a", "", "ccc"}))
        .kv("a.arr", arrays_of({Value::of_i32s({1, 2, 3}), Value::of_strings({"x"}),
                                arrays_of({packed_of(ValueType::kU8, {9}), arrays_of({})})}))
        .kv("a.deep", nested(kMaxArrayDepth))
        .tensor("w", {8, 2}, static_cast<uint32_t>(DType::kF32), 0)
        .tensor("q", {32, 1}, static_cast<uint32_t>(DType::kQ8_0), 64)
        .tensor("z", {0}, static_cast<uint32_t>(DType::kF32), 128);
    return b;
}

constexpr size_t kEveryTypeData = 128;  // w: 64 bytes at 0, q: 34 bytes at 64, z: none at 128

Bytes every_type_bytes(uint32_t version = 3) {
    Builder b = every_type(version);
    Bytes data(kEveryTypeData);
    for (size_t k = 0; k < data.size(); ++k) data[k] = static_cast<uint8_t>(k * 7);
    return b.build(kDefaultAlignment, data);
}

// One F32 tensor of `n` floats at offset 0, its data, and extra keys before it.
Bytes one_tensor(std::vector<std::pair<std::string, Value>> kvs, uint64_t n = 4,
                 size_t data_bytes = 16, uint64_t offset = 0) {
    Builder b;
    for (auto& [k, v] : kvs) b.kv(k, v);
    b.tensor("w", {n}, static_cast<uint32_t>(DType::kF32), offset);
    return b.build(kDefaultAlignment, Bytes(data_bytes, 0x3c));
}

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

// ---- Lying counts and fields, synthetic ------------------------------------------------------

// Sets the field at `at` to `v`, parses, and expects an Error of `kind` whose message holds
// every string in `parts`.
template <class T>
void expect_poke_fails(const Bytes& good, size_t at, T v, ErrorKind kind,
                       std::vector<std::string> parts) {
    Bytes bytes = good;
    poke<T>(bytes.data(), at, v);
    const Outcome o = parse_copy(bytes);
    const std::string what = fmt::format("value {} at {}", static_cast<uint64_t>(v), at);
    EXPECT_TRUE(o.error(kind)) << what << ": " << o.describe();
    EXPECT_TRUE(heap_ok(o, bytes.size())) << what << ": peak heap " << o.peak_heap;
    for (const std::string& p : parts) {
        EXPECT_TRUE(contains(o.message, p)) << what << ": " << o.message;
    }
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
