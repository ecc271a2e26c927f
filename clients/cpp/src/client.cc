// motionsearch C++ client: the wrapper over the generated stub (see include/motionsearch/client.h).

#include "motionsearch/client.h"

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <utility>

#include "motionsearch/v1/motionsearch.grpc.pb.h"  // generated at build time from the .proto

namespace motionsearch {
namespace {

namespace pb = ::motionsearch::v1;

constexpr size_t kChunkBytes = 64 * 1024;  // upload chunk size, as the Python client

// grpc::StatusCode values 0..16, in order.
const char* const kCodeNames[] = {
    "OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND",
    "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ABORTED",
    "OUT_OF_RANGE", "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED",
};

Status FromGrpc(const grpc::Status& status) {
  return Status{static_cast<int>(status.error_code()), status.error_message()};
}

Status IoError(const std::string& message) { return Status{Status::kIoError, message}; }

// Runs `body`, turning any exception (out of memory, a filesystem error) into a Status,
// so that nothing is thrown across the API.
template <typename Body>
Status Guarded(Body body) {
  try {
    return body();
  } catch (const std::exception& error) {
    return Status{static_cast<int>(grpc::StatusCode::INTERNAL), std::string("client error: ") + error.what()};
  } catch (...) {
    return Status{static_cast<int>(grpc::StatusCode::INTERNAL), "client error"};
  }
}

void ToProto(const SearchOptions& in, pb::SearchOptions* out) {
  out->set_top_k(in.top_k);
  out->set_include_mirrors(in.include_mirrors);
  pb::Filter* filter = out->mutable_filter();
  for (const std::string& c : in.contents) filter->add_contents(c);
  for (const std::string& s : in.styles) filter->add_styles(s);
  filter->set_min_seconds(in.min_seconds);
  filter->set_max_seconds(in.max_seconds);
  filter->set_source(in.source);
}

Motion FromProto(const pb::Motion& m) {
  Motion out;
  out.id = m.id();
  out.name = m.name();
  out.content = m.content();
  out.style = m.style();
  out.seconds = m.seconds();
  out.fps = m.fps();
  out.frames = m.frames();
  out.source = m.source();
  out.licence = m.licence();
  out.mirror = m.mirror();
  out.caption = m.caption();
  return out;
}

void FromProto(const pb::SearchResponse& response, SearchResult* result) {
  result->hits.clear();
  for (const pb::SearchHit& hit : response.hits()) {
    result->hits.push_back(
        SearchHit{FromProto(hit.motion()), hit.score(), hit.rank(), hit.start_seconds(), hit.end_seconds()});
  }
  result->library_size = response.library_size();
  result->server_ms = response.server_ms();
}

bool ReadFile(const std::string& path, std::string* data) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  data->assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  return !in.bad();
}

}  // namespace

std::string Status::code_name() const {
  if (code == kIoError) return "IO_ERROR";
  if (code >= 0 && code <= 16) return kCodeNames[code];
  return "CODE_" + std::to_string(code);
}

std::string Status::ToString() const { return message.empty() ? code_name() : code_name() + ": " + message; }

struct Client::Impl {
  ClientConfig config;
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<pb::MotionSearch::Stub> stub;

  // A context with this client's deadline and token; one per call, never reused.
  void Prepare(grpc::ClientContext* context) const {
    auto timeout = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::duration<double>(config.timeout_seconds));
    context->set_deadline(std::chrono::system_clock::now() + timeout);
    if (!config.token.empty()) context->AddMetadata("authorization", "Bearer " + config.token);
  }

  // GetMotion: hands each chunk to `sink` as it arrives; a sink returning false cancels the call.
  template <typename Sink>
  Status StreamMotion(const std::string& id, const GetOptions& options, Sink sink) const {
    return Guarded([&] {
      pb::GetMotionRequest request;
      request.set_id(id);
      request.set_fps(options.fps);
      request.set_start_seconds(options.start_seconds);
      request.set_end_seconds(options.end_seconds);
      request.set_in_place(options.in_place);
      request.set_mirror(options.mirror);
      grpc::ClientContext context;
      Prepare(&context);
      std::unique_ptr<grpc::ClientReader<pb::BvhChunk>> reader(stub->GetMotion(&context, request));
      pb::BvhChunk chunk;
      bool sunk = true;
      while (sunk && reader->Read(&chunk)) sunk = sink(chunk);
      if (!sunk) {
        context.TryCancel();
        while (reader->Read(&chunk)) {
        }  // drain what is in flight so that Finish returns
      }
      grpc::Status status = reader->Finish();
      if (!sunk) return IoError("the BVH could not be stored");
      return FromGrpc(status);
    });
  }
};

Client::Client(const ClientConfig& config) : impl_(new Impl) {
  impl_->config = config;
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(config.max_message_mb * 1024 * 1024);
  std::shared_ptr<grpc::ChannelCredentials> credentials;
  if (config.use_tls) {
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = config.root_certs_pem;  // empty = the system's roots
    credentials = grpc::SslCredentials(ssl);
  } else {
    credentials = grpc::InsecureChannelCredentials();
  }
  // Creating a channel does not connect: a server that is down shows as UNAVAILABLE on the first call.
  impl_->channel = grpc::CreateCustomChannel(config.address, credentials, args);
  impl_->stub = pb::MotionSearch::NewStub(impl_->channel);
}

Client::~Client() = default;

const ClientConfig& Client::config() const { return impl_->config; }

Status Client::SearchText(const std::string& text, const SearchOptions& options, SearchResult* result) {
  return Guarded([&] {
    pb::SearchTextRequest request;
    request.set_text(text);
    ToProto(options, request.mutable_options());
    pb::SearchResponse response;
    grpc::ClientContext context;
    impl_->Prepare(&context);
    grpc::Status status = impl_->stub->SearchText(&context, request, &response);
    if (status.ok()) FromProto(response, result);
    return FromGrpc(status);
  });
}

Status Client::SearchSpeechFile(const std::string& path, const SearchOptions& options, SearchResult* result) {
  std::string data;
  Status read = Guarded([&] { return ReadFile(path, &data) ? Status{} : IoError("cannot read audio file " + path); });
  return read.ok() ? SearchSpeech(data, options, result) : read;
}

Status Client::SearchSpeech(const std::string& audio, const SearchOptions& options, SearchResult* result) {
  return Guarded([&] {
    grpc::ClientContext context;
    impl_->Prepare(&context);
    pb::SearchResponse response;
    std::unique_ptr<grpc::ClientWriter<pb::SearchSpeechRequest>> writer(
        impl_->stub->SearchSpeech(&context, &response));
    // First message: the config (a whole WAV/FLAC file follows); then the file in chunks.
    pb::SearchSpeechRequest message;
    message.mutable_config()->set_encoding(pb::AUDIO_ENCODING_FILE);
    ToProto(options, message.mutable_config()->mutable_options());
    bool open = writer->Write(message);
    for (size_t offset = 0; open && offset < audio.size(); offset += kChunkBytes) {
      message.Clear();
      message.set_chunk(audio.substr(offset, kChunkBytes));
      open = writer->Write(message);  // false once the server has answered (e.g. an error): stop sending
    }
    writer->WritesDone();
    grpc::Status status = writer->Finish();  // the server's status, also when a Write failed
    if (status.ok()) FromProto(response, result);
    return FromGrpc(status);
  });
}

Status Client::GetMotion(const std::string& id, const GetOptions& options, std::string* bvh) {
  std::string data;
  Status status = impl_->StreamMotion(id, options, [&data](const pb::BvhChunk& chunk) {
    if (chunk.total_bytes() && data.empty()) data.reserve(chunk.total_bytes());
    data += chunk.data();
    return true;
  });
  if (status.ok()) *bvh = std::move(data);
  return status;
}

Status Client::GetMotionToFile(const std::string& id, const std::string& path, const GetOptions& options,
                               uint64_t* bytes) {
  // Chunks are written as they arrive to PATH.part, renamed to PATH once the stream ended
  // OK: a failed call or a full disk never leaves a truncated BVH at PATH. The file is
  // opened at the first chunk, so an error answered at once (NOT_FOUND) creates no file.
  const std::string part = path + ".part";
  std::ofstream out;
  bool opened = false;
  uint64_t written = 0;
  Status status = impl_->StreamMotion(id, options, [&](const pb::BvhChunk& chunk) {
    if (!opened) {
      out.open(part, std::ios::binary | std::ios::trunc);
      opened = true;
    }
    written += chunk.data().size();
    return static_cast<bool>(out.write(chunk.data().data(), static_cast<std::streamsize>(chunk.data().size())));
  });
  if (status.ok() && !opened) {  // an empty motion: still write the (empty) file
    out.open(part, std::ios::binary | std::ios::trunc);
    opened = true;
  }
  out.close();
  if (status.code == Status::kIoError || (status.ok() && out.fail())) status = IoError("cannot write " + part);
  if (status.ok()) {
    std::error_code error;
    std::filesystem::rename(part, path, error);
    if (error) status = IoError("cannot write " + path + ": " + error.message());
  }
  if (!status.ok()) {
    if (opened) std::remove(part.c_str());
    return status;
  }
  if (bytes) *bytes = written;
  return status;
}

Status Client::ListMotions(uint32_t page_size, const std::string& page_token, ListResult* result) {
  return Guarded([&] {
    pb::ListMotionsRequest request;
    request.set_page_size(page_size);
    request.set_page_token(page_token);
    pb::ListMotionsResponse response;
    grpc::ClientContext context;
    impl_->Prepare(&context);
    grpc::Status status = impl_->stub->ListMotions(&context, request, &response);
    if (status.ok()) {
      result->motions.clear();
      for (const pb::Motion& m : response.motions()) result->motions.push_back(FromProto(m));
      result->next_page_token = response.next_page_token();
      result->total = response.total();
    }
    return FromGrpc(status);
  });
}

}  // namespace motionsearch
