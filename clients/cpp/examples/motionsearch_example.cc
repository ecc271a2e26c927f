// motionsearch_example: the C++ client library from the command line (the calls a game engine makes).
//
//   motionsearch_example [--address HOST:PORT] [--token T] [--timeout S] COMMAND ...
//     search TEXT      [--top N] [--content C] [--style S] [--mirrors] [--save DIR]
//     speech FILE      [--top N] [--content C] [--style S] [--mirrors] [--save DIR]   (WAV or FLAC)
//     get ID           [--out FILE] [--fps F] [--in-place] [--mirror]
//     list             [--page-size N] [--page-token T]
//
// --save DIR writes each hit's BVH to DIR/RANK_ID.bvh. The token defaults to
// $MOTIONSEARCH_TOKEN. Errors print "error: CODE: message" on stderr and exit with 1
// (2 for a bad command line).

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

#include "motionsearch/client.h"

namespace {

const char kUsage[] =
    "usage: motionsearch_example [--address HOST:PORT] [--token T] [--timeout S] COMMAND ...\n"
    "  search TEXT [--top N] [--content C] [--style S] [--mirrors] [--save DIR]\n"
    "  speech FILE [--top N] [--content C] [--style S] [--mirrors] [--save DIR]\n"
    "  get ID [--out FILE] [--fps F] [--in-place] [--mirror]\n"
    "  list [--page-size N] [--page-token T]\n";

struct Args {
  motionsearch::ClientConfig config;
  std::string command;
  std::string subject;  // TEXT, FILE or ID
  motionsearch::SearchOptions search;
  std::string save_dir;
  motionsearch::GetOptions get;
  std::string out;
  uint32_t page_size = 20;
  std::string page_token;
};

int Fail(const motionsearch::Status& status) {
  std::cerr << "error: " << status.ToString() << "\n";
  return 1;
}

// Parses flags anywhere on the line (before or after the command); false on a bad line.
bool Parse(int argc, char** argv, Args* args) {
  if (const char* token = std::getenv("MOTIONSEARCH_TOKEN")) args->config.token = token;
  std::vector<std::string> positional;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    auto value = [&](std::string* out) {
      if (i + 1 >= argc) return false;
      *out = argv[++i];
      return true;
    };
    std::string v;
    try {
      if (flag == "--address") {
        if (!value(&args->config.address)) return false;
      } else if (flag == "--token") {
        if (!value(&args->config.token)) return false;
      } else if (flag == "--timeout") {
        if (!value(&v)) return false;
        args->config.timeout_seconds = std::stod(v);
      } else if (flag == "--top") {
        if (!value(&v)) return false;
        args->search.top_k = static_cast<uint32_t>(std::stoul(v));
      } else if (flag == "--content") {
        if (!value(&v)) return false;
        args->search.contents.push_back(v);
      } else if (flag == "--style") {
        if (!value(&v)) return false;
        args->search.styles.push_back(v);
      } else if (flag == "--mirrors") {
        args->search.include_mirrors = true;
      } else if (flag == "--save") {
        if (!value(&args->save_dir)) return false;
      } else if (flag == "--out") {
        if (!value(&args->out)) return false;
      } else if (flag == "--fps") {
        if (!value(&v)) return false;
        args->get.fps = std::stof(v);
      } else if (flag == "--in-place") {
        args->get.in_place = true;
      } else if (flag == "--mirror") {
        args->get.mirror = true;
      } else if (flag == "--page-size") {
        if (!value(&v)) return false;
        args->page_size = static_cast<uint32_t>(std::stoul(v));
      } else if (flag == "--page-token") {
        if (!value(&args->page_token)) return false;
      } else if (flag == "-h" || flag == "--help") {
        return false;
      } else if (flag.size() > 1 && flag[0] == '-') {
        std::cerr << "unknown option " << flag << "\n";
        return false;
      } else {
        positional.push_back(flag);
      }
    } catch (const std::exception&) {  // std::stod / std::stoul on a non-number
      std::cerr << "bad value for " << flag << "\n";
      return false;
    }
  }
  if (positional.empty()) return false;
  args->command = positional[0];
  const bool needs_subject = args->command != "list";
  if (positional.size() != (needs_subject ? 2u : 1u)) return false;
  if (needs_subject) args->subject = positional[1];
  return args->command == "search" || args->command == "speech" || args->command == "get" ||
         args->command == "list";
}

void PrintHits(const motionsearch::SearchResult& result) {
  std::printf("%zu of %llu motions (%.1f ms on the server)\n", result.hits.size(),
              static_cast<unsigned long long>(result.library_size), result.server_ms);
  for (const motionsearch::SearchHit& hit : result.hits) {
    const motionsearch::Motion& m = hit.motion;
    std::printf("%3u. %.3f  %-48s %s/%s  %.1f s  %s\n", hit.rank, hit.score, m.id.c_str(), m.content.c_str(),
                m.style.c_str(), m.seconds, m.caption.c_str());
  }
}

// Writes each hit's BVH to DIR/RANK_ID.bvh, as stored (no conversion).
int SaveHits(motionsearch::Client& client, const motionsearch::SearchResult& result, const std::string& dir) {
  std::error_code error;
  std::filesystem::create_directories(dir, error);
  if (error) return Fail({motionsearch::Status::kIoError, "cannot create " + dir + ": " + error.message()});
  for (const motionsearch::SearchHit& hit : result.hits) {
    char rank[16];
    std::snprintf(rank, sizeof rank, "%02u_", hit.rank);
    const std::string path = (std::filesystem::path(dir) / (rank + hit.motion.id + ".bvh")).string();
    motionsearch::Status status = client.GetMotionToFile(hit.motion.id, path, {});
    if (!status.ok()) return Fail(status);
    std::printf("saved %s\n", path.c_str());
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Args args;
  if (!Parse(argc, argv, &args)) {
    std::cerr << kUsage;
    return 2;
  }
  motionsearch::Client client(args.config);

  if (args.command == "search" || args.command == "speech") {
    motionsearch::SearchResult result;
    motionsearch::Status status = args.command == "search"
                                      ? client.SearchText(args.subject, args.search, &result)
                                      : client.SearchSpeechFile(args.subject, args.search, &result);
    if (!status.ok()) return Fail(status);
    PrintHits(result);
    return args.save_dir.empty() ? 0 : SaveHits(client, result, args.save_dir);
  }
  if (args.command == "get") {
    // Default: ID.bvh in the current folder (only the last path component, should ID look like a path).
    const std::string out =
        args.out.empty() ? std::filesystem::path(args.subject + ".bvh").filename().string() : args.out;
    uint64_t bytes = 0;
    motionsearch::Status status = client.GetMotionToFile(args.subject, out, args.get, &bytes);
    if (!status.ok()) return Fail(status);
    std::printf("saved %s (%llu bytes)\n", out.c_str(), static_cast<unsigned long long>(bytes));
    return 0;
  }
  // list
  motionsearch::ListResult page;
  motionsearch::Status status = client.ListMotions(args.page_size, args.page_token, &page);
  if (!status.ok()) return Fail(status);
  for (const motionsearch::Motion& m : page.motions) {
    std::printf("%-48s %s/%s  %.1f s\n", m.id.c_str(), m.content.c_str(), m.style.c_str(), m.seconds);
  }
  std::printf("%zu of %llu", page.motions.size(), static_cast<unsigned long long>(page.total));
  if (!page.next_page_token.empty()) std::printf("; next page: --page-token %s", page.next_page_token.c_str());
  std::printf("\n");
  return 0;
}
