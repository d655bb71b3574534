#include "gguf/writer.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "core/error.h"

namespace sobre::gguf {
namespace {

class FileSink final : public ByteSink {
   public:
    FileSink(std::FILE* f, std::string path) : f_(f), path_(std::move(path)) {}
    void write(const void* data, size_t n) override {
        if (n && std::fwrite(data, 1, n, f_) != n) {
            fail(ErrorKind::kIo, "{}: write failed: {}", path_, std::strerror(errno));
        }
        written_ += n;
    }
    template <class T>
    void put(T v) {
        write(&v, sizeof v);
    }
    void put_string(const std::string& s) {
        put<uint64_t>(s.size());
        write(s.data(), s.size());
    }
    void pad_to(uint64_t align) {
        static const uint8_t kZeros[64] = {};
        while (written_ % align) write(kZeros, std::min<uint64_t>(align - written_ % align, sizeof kZeros));
    }
    uint64_t written() const { return written_; }

   private:
    std::FILE* f_;
    std::string path_;
    uint64_t written_ = 0;
};

void put_value(FileSink& out, const Value& v);

void put_array(FileSink& out, const Value& v) {
    out.put<uint32_t>(static_cast<uint32_t>(v.elem_type));
    out.put<uint64_t>(v.size());
    if (v.elem_type == ValueType::kString) {
        for (const std::string& s : v.strings) out.put_string(s);
    } else if (v.elem_type == ValueType::kArray) {
        for (const Value& a : v.arrays) put_array(out, a);
    } else {
        out.write(v.packed.data(), v.packed.size());
    }
}

void put_value(FileSink& out, const Value& v) {
    switch (v.type) {
        case ValueType::kU8: out.put<uint8_t>(static_cast<uint8_t>(v.u)); break;
        case ValueType::kBool: out.put<uint8_t>(v.u ? 1 : 0); break;
        case ValueType::kI8: out.put<int8_t>(static_cast<int8_t>(v.i)); break;
        case ValueType::kU16: out.put<uint16_t>(static_cast<uint16_t>(v.u)); break;
        case ValueType::kI16: out.put<int16_t>(static_cast<int16_t>(v.i)); break;
        case ValueType::kU32: out.put<uint32_t>(static_cast<uint32_t>(v.u)); break;
        case ValueType::kI32: out.put<int32_t>(static_cast<int32_t>(v.i)); break;
        case ValueType::kU64: out.put<uint64_t>(v.u); break;
        case ValueType::kI64: out.put<int64_t>(v.i); break;
        case ValueType::kF32: out.put<float>(static_cast<float>(v.f)); break;
        case ValueType::kF64: out.put<double>(v.f); break;
        case ValueType::kString: out.put_string(v.s); break;
        case ValueType::kArray: put_array(out, v); break;
    }
}

}  // namespace

void Writer::set(std::string key, Value value) {
    for (auto& [k, v] : kv_) {
        if (k == key) {
            v = std::move(value);
            return;
        }
    }
    kv_.emplace_back(std::move(key), std::move(value));
}

void Writer::add_tensor(std::string name, DType type, std::vector<int64_t> shape, Producer produce) {
    int64_t rows = 1;
    for (size_t d = 1; d < shape.size(); ++d) rows *= shape[d];
    const uint64_t n_bytes = static_cast<uint64_t>(row_bytes(type, shape.at(0)) * rows);
    tensors_.push_back({std::move(name), type, std::move(shape), n_bytes, std::move(produce)});
}

void Writer::write(const std::string& path) const {
    uint64_t alignment = kDefaultAlignment;
    for (const auto& [k, v] : kv_) {
        if (k == "general.alignment" && v.type == ValueType::kU32 && v.u != 0 && (v.u & (v.u - 1)) == 0) {
            alignment = v.u;
        }
    }
    const std::string tmp = path + ".tmp";
    std::FILE* f = std::fopen(tmp.c_str(), "wb");
    if (!f) fail(ErrorKind::kIo, "{}: cannot create: {}", tmp, std::strerror(errno));
    try {
        FileSink out(f, tmp);
        out.write("GGUF", 4);
        out.put<uint32_t>(3);
        out.put<uint64_t>(tensors_.size());
        out.put<uint64_t>(kv_.size());
        for (const auto& [k, v] : kv_) {
            out.put_string(k);
            out.put<uint32_t>(static_cast<uint32_t>(v.type));
            put_value(out, v);
        }
        uint64_t offset = 0;
        for (const Tensor& t : tensors_) {
            out.put_string(t.name);
            out.put<uint32_t>(static_cast<uint32_t>(t.shape.size()));
            for (int64_t d : t.shape) out.put<uint64_t>(static_cast<uint64_t>(d));
            out.put<uint32_t>(static_cast<uint32_t>(t.type));
            out.put<uint64_t>(offset);
            offset += (t.n_bytes + alignment - 1) / alignment * alignment;
        }
        out.pad_to(alignment);
        for (const Tensor& t : tensors_) {
            const uint64_t start = out.written();
            t.produce(out);
            if (out.written() - start != t.n_bytes) {
                fail(ErrorKind::kIo, "{}: tensor '{}' produced {} bytes, expected {}", path, t.name,
                     out.written() - start, t.n_bytes);
            }
            out.pad_to(alignment);
        }
        if (std::fflush(f) != 0 || fsync(fileno(f)) != 0) {
            fail(ErrorKind::kIo, "{}: flush failed: {}", tmp, std::strerror(errno));
        }
    } catch (...) {
        std::fclose(f);
        std::remove(tmp.c_str());
        throw;
    }
    std::fclose(f);
    if (std::rename(tmp.c_str(), path.c_str()) != 0) {
        const int err = errno;
        std::remove(tmp.c_str());
        fail(ErrorKind::kIo, "{}: cannot rename into place: {}", path, std::strerror(err));
    }
}

}  // namespace sobre::gguf
