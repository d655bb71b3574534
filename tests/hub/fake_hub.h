// A local stand-in for the Hugging Face hub: two cpp-httplib servers on free ports of 127.0.0.1.
// The hub answers what huggingface.co answers for the calls sobre makes:
//   GET /api/models/OWNER/NAME/tree/REV?recursive=true  JSON array of {"type", "oid", "size",
//       "path", "lfs": {"oid": sha256, "size", "pointerSize"}}, `page_size` entries a page, with
//       Link: <...&cursor=N>; rel="next" while more remain; 404 {"error": ...} for another repo;
//   GET /OWNER/NAME/resolve/REV/PATH  302 to the CDN (another port, as cdn-lfs.hf.co is another
//       host), or 200 with the bytes for a non-LFS file.
// The CDN serves the bytes with Range support. Modes break either side the way networks and
// servers break.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "registry/fixture_manifest.h"

namespace sobre::testing {

struct FakeFile {
    std::string path;    // in the repository
    std::string data;    // the bytes served
    std::string sha256;  // what the listing publishes as lfs.oid; empty: a non-LFS file
};

enum class CdnMode {
    kNormal,
    kCutOnce,      // the first file response breaks off after `cut_at` body bytes
    kCutAlways,    // every file response breaks off after `cut_at` body bytes
    kCorrupt,      // one byte in the middle of the file is flipped
    kIgnoreRange,  // answers every request with 200 and the whole file
};

enum class ListingMode {
    kNormal,
    kGarbage,     // 200 with an HTML page
    kBadEntries,  // 200 with a JSON array whose entries have fields of the wrong type
    kForeignLinks,  // pagination links name https://huggingface.co, as some mirrors' do
};

// What the servers saw.
struct Seen {
    int listing_pages = 0;
    int file_requests = 0;              // requests that reached the CDN
    std::vector<std::string> ranges;    // Range headers of CDN requests (only those that had one)
    std::vector<std::string> hub_auth;  // Authorization headers the hub got (one per request)
    std::vector<std::string> cdn_auth;  // ... and the CDN
};

class FakeHub {
   public:
    FakeHub(std::string repo, std::vector<FakeFile> files, size_t page_size = 2);
    ~FakeHub();
    FakeHub(const FakeHub&) = delete;
    FakeHub& operator=(const FakeHub&) = delete;

    std::string url() const;  // http://127.0.0.1:PORT of the hub
    void set_cdn_mode(CdnMode mode, size_t cut_at = 0);
    void set_listing_mode(ListingMode mode);
    // Requests without "Authorization: Bearer TOKEN" then get 401, as gated repositories do.
    void require_token(std::string token);
    Seen seen() const;

   private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace sobre::testing
