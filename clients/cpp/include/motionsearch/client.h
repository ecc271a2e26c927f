// motionsearch C++ client: search a motionsearch server by text or speech and fetch BVH.
//
// A small blocking wrapper over the generated gRPC stub of motionsearch.v1.MotionSearch
// (proto/motionsearch/v1/motionsearch.proto). This header includes no gRPC or protobuf
// headers (the stub lives behind a pointer), so engine code such as an Unreal module can
// include it without protobuf's macros meeting the engine's.
//
// Errors never throw: every call returns a Status (code + readable message) and fills its
// output only on success. Calls block until the server answers or the deadline passes, so
// in a game call them from a worker thread and hand the result to the game thread.
// A Client is thread-safe: one instance can serve several threads at once.
//
//   motionsearch::Client client({"127.0.0.1:50051"});
//   motionsearch::SearchResult result;
//   motionsearch::Status status = client.SearchText("a person waves", {5}, &result);
//   if (!status.ok()) std::cerr << status.ToString() << "\n";
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace motionsearch {

// The outcome of a call: code 0 is OK, 1..16 are gRPC status codes (the server's, or the
// client library's own such as DEADLINE_EXCEEDED or UNAVAILABLE when no server answers),
// kIoError is a local file that could not be read or written.
struct Status {
  static constexpr int kIoError = -1;

  int code = 0;
  std::string message;

  bool ok() const { return code == 0; }
  // "OK", "NOT_FOUND", "UNAVAILABLE", ..., or "IO_ERROR".
  std::string code_name() const;
  // "NOT_FOUND: no motion with id 'x' in the library".
  std::string ToString() const;
};

// How to reach the server.
struct ClientConfig {
  std::string address = "127.0.0.1:50051";  // host:port
  std::string token;                         // sent as "authorization: Bearer TOKEN" when not empty
  double timeout_seconds = 30.0;             // deadline of every call
  bool use_tls = false;                      // TLS with the system roots, or root_certs_pem when set
  std::string root_certs_pem;
  int max_message_mb = 16;                   // largest message accepted from the server
};

// Filters and size of a search (SearchOptions and Filter in the proto).
struct SearchOptions {
  uint32_t top_k = 10;                // 1..100
  std::vector<std::string> contents;  // any of these content labels, e.g. "walk"; empty = any
  std::vector<std::string> styles;    // any of these style labels, e.g. "tired"; empty = any
  float min_seconds = 0.0f;           // duration range; 0 = unbounded
  float max_seconds = 0.0f;
  std::string source;                 // e.g. "bandai-namco"; empty = any
  bool include_mirrors = false;       // also rank mirrored copies (ids "M" + clip id)
};

// One clip of the library.
struct Motion {
  std::string id;  // stable, never a path: use it for GetMotion
  std::string name;
  std::string content;
  std::string style;
  float seconds = 0.0f;
  float fps = 0.0f;
  uint32_t frames = 0;
  std::string source;
  std::string licence;
  bool mirror = false;
  std::string caption;  // for display
};

struct SearchHit {
  Motion motion;
  float score = 0.0f;  // similarity in [-1, 1]; higher is better
  uint32_t rank = 0;   // 1 = best
  // The part that matched, in seconds: the whole clip, or the best window of a long take (for GetOptions).
  float start_seconds = 0.0f;
  float end_seconds = 0.0f;
};

struct SearchResult {
  std::vector<SearchHit> hits;  // best first
  uint64_t library_size = 0;
  float server_ms = 0.0f;
};

// How GetMotion converts the clip; the defaults return the stored file's bytes unchanged.
struct GetOptions {
  float fps = 0.0f;            // resample to this frame rate (0 = as stored)
  float start_seconds = 0.0f;  // frame range [start, end) in seconds (0, 0 = whole clip)
  float end_seconds = 0.0f;
  bool in_place = false;       // remove the root's horizontal travel
  bool mirror = false;         // swap left and right
};

struct ListResult {
  std::vector<Motion> motions;
  std::string next_page_token;  // empty on the last page
  uint64_t total = 0;
};

class Client {
 public:
  explicit Client(const ClientConfig& config = ClientConfig());
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Rank the library against a text query ("wave with the left hand, tired").
  Status SearchText(const std::string& text, const SearchOptions& options, SearchResult* result);

  // Rank against speech: a complete WAV or FLAC file, streamed to the server in chunks.
  Status SearchSpeechFile(const std::string& path, const SearchOptions& options, SearchResult* result);
  // The same with the file's bytes already in memory (e.g. a recorded WAV).
  Status SearchSpeech(const std::string& wav_or_flac_bytes, const SearchOptions& options, SearchResult* result);

  // Fetch one motion as BVH text (streamed by the server in chunks).
  Status GetMotion(const std::string& id, const GetOptions& options, std::string* bvh);
  // The same, written to `path` (via `path`.part, renamed once complete); `bytes` may be null.
  Status GetMotionToFile(const std::string& id, const std::string& path, const GetOptions& options,
                         uint64_t* bytes = nullptr);

  // One page of the library (page_size 1..1000; page_token from the previous page, or empty).
  Status ListMotions(uint32_t page_size, const std::string& page_token, ListResult* result);

  const ClientConfig& config() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace motionsearch
