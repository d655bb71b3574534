// The harness of the hostile-GGUF tests (hostile_synthetic_test.cc, hostile_fixture_test.cc):
// a heap meter, parsing one case from an exact-size heap block, a hand-written GGUF serializer
// that records where every field sits, and the fixture and synthetic files the tests corrupt.
#pragma once

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

namespace sobre::gguf::hostile {

// Live and peak heap of the arming thread while metering (hostile_harness.cc replaces the
// global operator new/delete of the test binary).
extern thread_local bool t_metering;
extern thread_local int64_t t_live;
extern thread_local int64_t t_peak;

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
inline void walk(const File& f, const uint8_t* data, size_t size) {
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
inline Outcome parse_in_place(const uint8_t* data, size_t size) {
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

inline Outcome parse_copy(std::span<const uint8_t> bytes) { return ExactBuffer(bytes).parse(); }

inline bool heap_ok(const Outcome& o, size_t input_size) {
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
inline void poke(uint8_t* buf, size_t at, T v) {
    std::memcpy(buf + at, &v, sizeof v);
}

template <class T>
inline T peek(const uint8_t* buf, size_t at) {
    T v;
    std::memcpy(&v, buf + at, sizeof v);
    return v;
}

inline bool contains(const std::string& s, const std::string& part) {
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

inline Value scalar_of(ValueType t, uint64_t u, int64_t i = 0, double f = 0) {
    Value v;
    v.type = t;
    v.u = u;
    v.i = i;
    v.f = f;
    return v;
}

inline Value packed_of(ValueType elem, Bytes bytes) {
    Value v;
    v.type = ValueType::kArray;
    v.elem_type = elem;
    v.packed = std::move(bytes);
    return v;
}

inline Value arrays_of(std::vector<Value> elems) {
    Value v;
    v.type = ValueType::kArray;
    v.elem_type = ValueType::kArray;
    v.arrays = std::move(elems);
    return v;
}

// `depth` levels of arrays, the innermost a u8 array holding {7}.
inline Value nested(int depth) {
    Value v = packed_of(ValueType::kU8, {7});
    for (int d = 1; d < depth; ++d) v = arrays_of({std::move(v)});
    return v;
}

// Keeps the first `n` elements of every array, so a big fixture's metadata shrinks to a
// buffer small enough to corrupt at every offset.
inline Value clipped(Value v, size_t n) {
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

inline const Bytes& fixture(const std::string& rel) {
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
inline Builder rebuild(const File& f, size_t clip = std::numeric_limits<size_t>::max()) {
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

inline const ModelLayout& model() {
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
inline Builder every_type(uint32_t version) {
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

inline Bytes every_type_bytes(uint32_t version = 3) {
    Builder b = every_type(version);
    Bytes data(kEveryTypeData);
    for (size_t k = 0; k < data.size(); ++k) data[k] = static_cast<uint8_t>(k * 7);
    return b.build(kDefaultAlignment, data);
}

// One F32 tensor of `n` floats at offset 0, its data, and extra keys before it.
inline Bytes one_tensor(std::vector<std::pair<std::string, Value>> kvs, uint64_t n = 4,
                 size_t data_bytes = 16, uint64_t offset = 0) {
    Builder b;
    for (auto& [k, v] : kvs) b.kv(k, v);
    b.tensor("w", {n}, static_cast<uint32_t>(DType::kF32), offset);
    return b.build(kDefaultAlignment, Bytes(data_bytes, 0x3c));
}



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

}  // namespace sobre::gguf::hostile
