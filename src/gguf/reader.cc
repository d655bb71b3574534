#include "gguf/reader.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <limits>

#include "core/error.h"

namespace sobre::gguf {

// Owns the read-only mapping of a file.
struct File::Mapping {
    void* addr = nullptr;
    size_t size = 0;
    ~Mapping() {
        if (addr) munmap(addr, size);
    }
};

namespace {

// Counts read from a file only bound the parse; memory is reserved for at most this many entries
// up front and otherwise grows with the entries actually read, so a lying count cannot allocate.
constexpr uint64_t kMaxReserve = 4096;
size_t reserve_for(uint64_t count) { return static_cast<size_t>(std::min(count, kMaxReserve)); }

constexpr uint8_t kMagic[4] = {'G', 'G', 'U', 'F'};
// Smallest on-disk sizes, used to bound counts against the bytes that remain before anything
// is allocated: a key-value pair is a length, a type and at least one value byte; a tensor info
// is a name length, n_dims, one dim, a type and an offset.
constexpr uint64_t kMinKvBytes = 8 + 4 + 1;
constexpr uint64_t kMinTensorInfoBytes = 8 + 4 + 8 + 4 + 8;

}  // namespace

// Bounds-checked cursor over the file bytes; every failure names the file, field and offset.
class Parser {
   public:
    Parser(std::string path, const uint8_t* data, uint64_t size)
        : path_(std::move(path)), data_(data), size_(size) {}

    void parse_into(File& f);

   private:
    template <class... Args>
    [[noreturn]] void corrupt(uint64_t at, std::string_view field, fmt::format_string<Args...> what,
                              Args&&... args) const {
        fail(ErrorKind::kCorrupt, "{}: {} at offset {}: {}", path_, field, at,
             fmt::format(what, std::forward<Args>(args)...));
    }

    uint64_t remaining() const { return size_ - pos_; }

    void need(uint64_t n, std::string_view field) const {
        if (n > remaining()) {
            corrupt(pos_, field, "needs {} bytes but only {} remain (file is {} bytes)", n,
                    remaining(), size_);
        }
    }

    template <class T>
    T read(std::string_view field) {
        need(sizeof(T), field);
        T v;
        std::memcpy(&v, data_ + pos_, sizeof(T));
        pos_ += sizeof(T);
        return v;
    }

    std::string read_string(std::string_view field) {
        const uint64_t at = pos_;
        const uint64_t len = read<uint64_t>(field);
        if (len > remaining()) {
            corrupt(at, field, "string length {} exceeds the {} bytes remaining", len, remaining());
        }
        std::string s(reinterpret_cast<const char*>(data_ + pos_), static_cast<size_t>(len));
        pos_ += len;
        return s;
    }

    ValueType read_value_type(std::string_view field) {
        const uint64_t at = pos_;
        const uint32_t t = read<uint32_t>(field);
        if (t >= kNumValueTypes) corrupt(at, field, "unknown value type {}", t);
        return static_cast<ValueType>(t);
    }

    Value read_value(ValueType type, const std::string& key, int depth);
    void read_array(Value& v, const std::string& key, int depth);
    void read_header(File& f, uint64_t& n_tensors, uint64_t& n_kv);
    void read_metadata(File& f, uint64_t n_kv);
    void read_tensor_infos(File& f, uint64_t n_tensors);
    void read_alignment(File& f);
    void place_tensors(File& f);

    std::string path_;
    const uint8_t* data_;
    uint64_t size_;
    uint64_t pos_ = 0;
    uint64_t alignment_at_ = 0;  // where general.alignment's value type sits, for errors
};

Value Parser::read_value(ValueType type, const std::string& key, int depth) {
    Value v;
    v.type = type;
    switch (type) {
        case ValueType::kU8: v.u = read<uint8_t>(key); break;
        case ValueType::kI8: v.i = read<int8_t>(key); break;
        case ValueType::kU16: v.u = read<uint16_t>(key); break;
        case ValueType::kI16: v.i = read<int16_t>(key); break;
        case ValueType::kU32: v.u = read<uint32_t>(key); break;
        case ValueType::kI32: v.i = read<int32_t>(key); break;
        case ValueType::kU64: v.u = read<uint64_t>(key); break;
        case ValueType::kI64: v.i = read<int64_t>(key); break;
        case ValueType::kF32: v.f = read<float>(key); break;
        case ValueType::kF64: v.f = read<double>(key); break;
        case ValueType::kBool: {
            const uint64_t at = pos_;
            const uint8_t b = read<uint8_t>(key);
            if (b > 1) corrupt(at, key, "bool value {} is neither 0 nor 1", b);
            v.u = b;
            break;
        }
        case ValueType::kString: v.s = read_string(key); break;
        case ValueType::kArray: read_array(v, key, depth + 1); break;
    }
    return v;
}

void Parser::read_array(Value& v, const std::string& key, int depth) {
    const uint64_t at = pos_;
    if (depth > kMaxArrayDepth) corrupt(at, key, "arrays nested deeper than {}", kMaxArrayDepth);
    v.elem_type = read_value_type(key);
    const uint64_t count = read<uint64_t>(key);
    // Every element takes at least this many bytes, so the count is bounded by what remains
    // before anything is allocated.
    uint64_t min_elem = value_type_size(v.elem_type);
    if (v.elem_type == ValueType::kString) min_elem = 8;
    if (v.elem_type == ValueType::kArray) min_elem = 4 + 8;
    if (count > remaining() / min_elem) {
        corrupt(at, key, "array of {} {} elements cannot fit in the {} bytes remaining", count,
                value_type_name(v.elem_type), remaining());
    }
    if (v.elem_type == ValueType::kString) {
        v.strings.reserve(reserve_for(count));
        for (uint64_t k = 0; k < count; ++k) v.strings.push_back(read_string(key));
    } else if (v.elem_type == ValueType::kArray) {
        v.arrays.reserve(reserve_for(count));
        for (uint64_t k = 0; k < count; ++k) v.arrays.push_back(read_value(ValueType::kArray, key, depth));
    } else {
        const uint64_t n = count * min_elem;
        v.packed.assign(data_ + pos_, data_ + pos_ + n);
        if (v.elem_type == ValueType::kBool) {
            for (uint64_t k = 0; k < count; ++k) {
                if (v.packed[k] > 1) corrupt(pos_ + k, key, "bool value {} is neither 0 nor 1", v.packed[k]);
            }
        }
        pos_ += n;
    }
}

void Parser::read_header(File& f, uint64_t& n_tensors, uint64_t& n_kv) {
    need(4, "magic");
    if (std::memcmp(data_, kMagic, 4) != 0) {
        fail(ErrorKind::kCorrupt, "{}: not a GGUF file (magic at offset 0 is not 'GGUF')", path_);
    }
    pos_ = 4;
    const uint32_t version = read<uint32_t>("version");
    if (version == 1) {
        fail(ErrorKind::kUnsupported, "{}: GGUF version 1 (offset 4) is not supported; convert it again", path_);
    }
    if (version != 2 && version != 3) {
        const bool swapped = __builtin_bswap32(version) <= 3;
        fail(ErrorKind::kUnsupported, "{}: GGUF version {} at offset 4 is not supported{}", path_, version,
             swapped ? " (big-endian file)" : " (expected 2 or 3)");
    }
    f.version_ = version;
    const uint64_t at_tensors = pos_;
    n_tensors = read<uint64_t>("tensor_count");
    const uint64_t at_kv = pos_;
    n_kv = read<uint64_t>("metadata_kv_count");
    if (n_kv > remaining() / kMinKvBytes) {
        corrupt(at_kv, "metadata_kv_count", "{} key-value pairs cannot fit in the {} bytes remaining",
                n_kv, remaining());
    }
    if (n_tensors > remaining() / kMinTensorInfoBytes) {
        corrupt(at_tensors, "tensor_count", "{} tensors cannot fit in the {} bytes remaining",
                n_tensors, remaining());
    }
}

void Parser::read_metadata(File& f, uint64_t n_kv) {
    f.kv_.reserve(reserve_for(n_kv));
    for (uint64_t k = 0; k < n_kv; ++k) {
        const uint64_t at = pos_;
        std::string key = read_string(fmt::format("metadata key #{}", k));
        if (f.kv_index_.count(key)) corrupt(at, key, "duplicate metadata key");
        if (key == "general.alignment") alignment_at_ = pos_;
        const ValueType type = read_value_type(key);
        Value v = read_value(type, key, 0);
        f.kv_index_.emplace(key, f.kv_.size());
        f.kv_.emplace_back(std::move(key), std::move(v));
    }
}

void Parser::read_tensor_infos(File& f, uint64_t n_tensors) {
    f.tensors_.reserve(reserve_for(n_tensors));
    for (uint64_t k = 0; k < n_tensors; ++k) {
        TensorInfo t;
        const uint64_t at = pos_;
        t.name = read_string(fmt::format("tensor #{} name", k));
        const std::string field = fmt::format("tensor '{}'", t.name);
        if (f.tensor_index_.count(t.name)) corrupt(at, field, "duplicate tensor name");
        const uint64_t at_dims = pos_;
        const uint32_t n_dims = read<uint32_t>(field);
        if (n_dims < 1 || n_dims > kMaxDims) corrupt(at_dims, field, "n_dims {} is not in [1, {}]", n_dims, kMaxDims);
        t.n_dims = static_cast<int>(n_dims);
        int64_t product = 1;
        for (uint32_t d = 0; d < n_dims; ++d) {
            const uint64_t at_dim = pos_;
            const uint64_t ne = read<uint64_t>(field);
            if (ne > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
                corrupt(at_dim, field, "dimension {} is {}, out of range", d, ne);
            }
            t.ne[d] = static_cast<int64_t>(ne);
            if (t.ne[d] != 0 && product > std::numeric_limits<int64_t>::max() / t.ne[d]) {
                corrupt(at_dim, field, "shape {} overflows the element count", t.shape_string());
            }
            product *= t.ne[d];
        }
        const uint64_t at_type = pos_;
        const uint32_t type = read<uint32_t>(field);
        if (!dtype_known(type)) {
            fail(ErrorKind::kUnsupported, "{}: {} at offset {}: tensor type id {} is not supported",
                 path_, field, at_type, type);
        }
        t.type = static_cast<DType>(type);
        const DTypeTraits& tr = dtype_traits(t.type);
        if (t.ne[0] % tr.block_elems != 0) {
            corrupt(at_type, field, "row length {} is not a multiple of the {} block size {}", t.ne[0],
                    tr.name, tr.block_elems);
        }
        const uint64_t blocks = static_cast<uint64_t>(product / tr.block_elems);
        if (blocks > std::numeric_limits<uint64_t>::max() / static_cast<uint64_t>(tr.block_bytes)) {
            corrupt(at_type, field, "byte size of shape {} overflows", t.shape_string());
        }
        t.n_bytes = blocks * static_cast<uint64_t>(tr.block_bytes);
        t.offset = read<uint64_t>(field);
        f.tensor_index_.emplace(t.name, f.tensors_.size());
        f.tensors_.push_back(std::move(t));
    }
}

void Parser::read_alignment(File& f) {
    const Value* v = f.find("general.alignment");
    if (!v) return;
    const char* key = "general.alignment";
    if (v->type != ValueType::kU32) corrupt(alignment_at_, key, "type {}, expected u32", value_type_name(v->type));
    if (v->u == 0 || (v->u & (v->u - 1)) != 0) corrupt(alignment_at_, key, "{} is not a power of two", v->u);
    if (v->u > (uint64_t{1} << 30)) corrupt(alignment_at_, key, "{} is larger than any file needs", v->u);
    f.alignment_ = static_cast<uint32_t>(v->u);
}

void Parser::place_tensors(File& f) {
    const uint64_t align = f.alignment_;
    const uint64_t data_offset = (pos_ + align - 1) / align * align;
    if (!f.tensors_.empty() && data_offset > size_) {
        corrupt(pos_, "tensor data", "data section (aligned to general.alignment {}) starts at {}, past the end of the file",
                align, data_offset);
    }
    f.data_offset_ = data_offset;
    const uint64_t data_size = size_ > data_offset ? size_ - data_offset : 0;
    for (TensorInfo& t : f.tensors_) {
        if (t.offset % align != 0) {
            fail(ErrorKind::kCorrupt, "{}: tensor '{}' offset {} is not a multiple of the alignment {}",
                 path_, t.name, t.offset, align);
        }
        if (t.offset > data_size || t.n_bytes > data_size - t.offset) {
            fail(ErrorKind::kCorrupt,
                 "{}: tensor '{}' data [{}, {}) is past the end of the file ({} bytes; data section at {})",
                 path_, t.name, data_offset + t.offset, data_offset + t.offset + t.n_bytes, size_,
                 data_offset);
        }
        t.data = data_ + data_offset + t.offset;
    }
}

void Parser::parse_into(File& f) {
    uint64_t n_tensors = 0, n_kv = 0;
    read_header(f, n_tensors, n_kv);
    read_metadata(f, n_kv);
    read_tensor_infos(f, n_tensors);
    read_alignment(f);
    place_tensors(f);
}

int64_t TensorInfo::row_bytes() const { return sobre::row_bytes(type, ne[0]); }

std::string TensorInfo::shape_string() const {
    std::string s = "{";
    for (int d = 0; d < n_dims; ++d) s += fmt::format("{}{}", d ? ", " : "", ne[d]);
    return s + "}";
}

File::File(File&&) noexcept = default;
File& File::operator=(File&&) noexcept = default;
File::~File() = default;

File File::parse(std::string label, const uint8_t* data, size_t size) {
    File f;
    f.path_ = std::move(label);
    f.base_ = data;
    f.size_ = size;
    Parser(f.path_, data, size).parse_into(f);
    return f;
}

File File::open(const std::string& path) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        const int err = errno;
        fail(err == ENOENT ? ErrorKind::kNotFound : ErrorKind::kIo, "{}: cannot open: {}", path,
             std::strerror(err));
    }
    struct stat st {};
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        ::close(fd);
        fail(ErrorKind::kIo, "{}: not a regular file", path);
    }
    auto mapping = std::make_unique<Mapping>();
    mapping->size = static_cast<size_t>(st.st_size);
    if (mapping->size > 0) {
        void* addr = mmap(nullptr, mapping->size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (addr == MAP_FAILED) {
            const int err = errno;
            ::close(fd);
            fail(ErrorKind::kIo, "{}: mmap failed: {}", path, std::strerror(err));
        }
        mapping->addr = addr;
    }
    ::close(fd);
    File f = parse(path, static_cast<const uint8_t*>(mapping->addr), mapping->size);
    f.mapping_ = std::move(mapping);
    return f;
}

const Value* File::find(std::string_view key) const {
    auto it = kv_index_.find(key);
    return it == kv_index_.end() ? nullptr : &kv_[it->second].second;
}

const TensorInfo* File::find_tensor(std::string_view name) const {
    auto it = tensor_index_.find(name);
    return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

std::optional<uint64_t> File::get_u64(std::string_view key) const {
    const Value* v = find(key);
    if (!v) return std::nullopt;
    if (v->is_integer()) {
        if (!v->is_signed()) return v->u;
        if (v->i >= 0) return static_cast<uint64_t>(v->i);
        fail(ErrorKind::kCorrupt, "{}: key {} is negative ({})", path_, key, v->i);
    }
    fail(ErrorKind::kCorrupt, "{}: key {} has type {}, expected an integer", path_, key,
         value_type_name(v->type));
}

std::optional<uint32_t> File::get_u32(std::string_view key) const {
    const auto v = get_u64(key);
    if (!v) return std::nullopt;
    if (*v > std::numeric_limits<uint32_t>::max()) {
        fail(ErrorKind::kCorrupt, "{}: key {} value {} is out of range", path_, key, *v);
    }
    return static_cast<uint32_t>(*v);
}

std::optional<float> File::get_f32(std::string_view key) const {
    const Value* v = find(key);
    if (!v) return std::nullopt;
    if (v->is_float() || v->is_integer()) return static_cast<float>(v->as_double());
    fail(ErrorKind::kCorrupt, "{}: key {} has type {}, expected a number", path_, key,
         value_type_name(v->type));
}

std::optional<bool> File::get_bool(std::string_view key) const {
    const Value* v = find(key);
    if (!v) return std::nullopt;
    if (v->type != ValueType::kBool) {
        fail(ErrorKind::kCorrupt, "{}: key {} has type {}, expected bool", path_, key, value_type_name(v->type));
    }
    return v->u != 0;
}

std::optional<std::string> File::get_string(std::string_view key) const {
    const Value* v = find(key);
    if (!v) return std::nullopt;
    if (v->type != ValueType::kString) {
        fail(ErrorKind::kCorrupt, "{}: key {} has type {}, expected string", path_, key,
             value_type_name(v->type));
    }
    return v->s;
}

const Value* File::get_array(std::string_view key) const {
    const Value* v = find(key);
    if (v && v->type != ValueType::kArray) {
        fail(ErrorKind::kCorrupt, "{}: key {} has type {}, expected array", path_, key,
             value_type_name(v->type));
    }
    return v;
}

}  // namespace sobre::gguf
