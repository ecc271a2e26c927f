// motionsearch client for Unity: a thin async wrapper over the generated gRPC client.
//
// UNTESTED: written for Unity 2021.3+ with Grpc.Net.Client and YetAnotherHttpHandler, but
// never compiled or run: the machine it was written on has no .NET SDK and no NuGet access
// (see clients/unity/README.md). Kept to C# 7.3 so that any Unity version with .NET
// Standard 2.1 compiles it.
//
// The API code (namespace MotionSearch.V1) is generated from proto/motionsearch/v1/motionsearch.proto
// into Assets/MotionSearch/Generated/ by clients/unity/generate.sh or the codegen project.
//
// Every method is async: await it from a MonoBehaviour and the code after the await runs
// on Unity's main thread again (Unity's SynchronizationContext), so it may touch the scene.
// Failures throw: Grpc.Core.RpcException (StatusCode + Status.Detail, e.g. NotFound
// "no motion with id 'x' in the library", Unavailable when no server answers) or IOException.
using System;
using System.IO;
using System.Threading;
using System.Threading.Tasks;
using Cysharp.Net.Http;  // YetAnotherHttpHandler: HTTP/2 for Unity's HttpClient
using Google.Protobuf;
using Grpc.Core;
using Grpc.Net.Client;
using Api = MotionSearch.V1;  // the generated messages and Api.MotionSearch.MotionSearchClient

namespace MotionSearchUnity
{
    public sealed class MotionSearchClient : IDisposable
    {
        const int ChunkBytes = 64 * 1024;  // upload chunk size, as the other clients

        readonly GrpcChannel channel;
        readonly Api.MotionSearch.MotionSearchClient stub;
        readonly Metadata headers;  // null, or "authorization: Bearer TOKEN"

        /// <summary>Deadline of every call.</summary>
        public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(30);

        /// <param name="address">"host:port" or "http://host:port" (cleartext HTTP/2, the server's default),
        /// or "https://host:port" when the server runs with --tls-cert/--tls-key.</param>
        /// <param name="token">the server's --token, or null.</param>
        public MotionSearchClient(string address, string token = null)
        {
            if (!address.Contains("://")) address = "http://" + address;
            // Unity's own HttpClient handler speaks HTTP/1.1 only; gRPC needs HTTP/2.
            // Http2Only makes YetAnotherHttpHandler use HTTP/2 over cleartext (h2c) for http:// addresses.
            var handler = new YetAnotherHttpHandler { Http2Only = true };
            channel = GrpcChannel.ForAddress(address, new GrpcChannelOptions
            {
                HttpHandler = handler,
                DisposeHttpClient = true,  // the channel owns the handler
                MaxReceiveMessageSize = 16 * 1024 * 1024,
            });
            stub = new Api.MotionSearch.MotionSearchClient(channel);
            headers = string.IsNullOrEmpty(token) ? null : new Metadata { { "authorization", "Bearer " + token } };
        }

        /// <summary>Search options: top_k results, optionally only these content labels (e.g. "walk").</summary>
        public static Api.SearchOptions Options(uint topK = 10, params string[] contents)
        {
            var options = new Api.SearchOptions { TopK = topK, Filter = new Api.Filter() };
            options.Filter.Contents.Add(contents);
            return options;
        }

        DateTime Deadline() { return DateTime.UtcNow + Timeout; }

        /// <summary>Rank the library against a text query ("wave with the left hand, tired").</summary>
        public async Task<Api.SearchResponse> SearchTextAsync(string text, Api.SearchOptions options = null,
                                                              CancellationToken cancel = default(CancellationToken))
        {
            var request = new Api.SearchTextRequest { Text = text, Options = options ?? Options() };
            using (var call = stub.SearchTextAsync(request, headers, Deadline(), cancel))
            {
                return await call.ResponseAsync;
            }
        }

        /// <summary>Rank against speech: a whole WAV or FLAC file, streamed in chunks after a config message.</summary>
        public async Task<Api.SearchResponse> SearchSpeechFileAsync(string path, Api.SearchOptions options = null,
                                                                    CancellationToken cancel = default(CancellationToken))
        {
            using (var file = File.OpenRead(path))
            using (var call = stub.SearchSpeech(headers, Deadline(), cancel))
            {
                var config = new Api.AudioConfig { Encoding = Api.AudioEncoding.File, Options = options ?? Options() };
                await call.RequestStream.WriteAsync(new Api.SearchSpeechRequest { Config = config });
                var buffer = new byte[ChunkBytes];
                int read;
                while ((read = await file.ReadAsync(buffer, 0, buffer.Length, cancel)) > 0)
                {
                    var chunk = ByteString.CopyFrom(buffer, 0, read);
                    await call.RequestStream.WriteAsync(new Api.SearchSpeechRequest { Chunk = chunk });
                }
                await call.RequestStream.CompleteAsync();
                return await call.ResponseAsync;
            }
        }

        static Api.GetMotionRequest GetRequest(string id, float fps, bool inPlace, bool mirror)
        {
            return new Api.GetMotionRequest { Id = id, Fps = fps, InPlace = inPlace, Mirror = mirror };
        }

        /// <summary>One motion as BVH bytes (with no options: the stored file, byte for byte).</summary>
        public async Task<byte[]> GetMotionAsync(string id, float fps = 0, bool inPlace = false, bool mirror = false,
                                                 CancellationToken cancel = default(CancellationToken))
        {
            using (var call = stub.GetMotion(GetRequest(id, fps, inPlace, mirror), headers, Deadline(), cancel))
            using (var bvh = new MemoryStream())
            {
                while (await call.ResponseStream.MoveNext(cancel))
                {
                    call.ResponseStream.Current.Data.WriteTo(bvh);
                }
                return bvh.ToArray();
            }
        }

        /// <summary>One motion streamed to a BVH file (via PATH.part, renamed once complete); returns its size.</summary>
        public async Task<long> GetMotionToFileAsync(string id, string path, float fps = 0, bool inPlace = false,
                                                     bool mirror = false,
                                                     CancellationToken cancel = default(CancellationToken))
        {
            string part = path + ".part";
            long written = 0;
            try
            {
                using (var call = stub.GetMotion(GetRequest(id, fps, inPlace, mirror), headers, Deadline(), cancel))
                using (var file = new FileStream(part, FileMode.Create, FileAccess.Write, FileShare.None, ChunkBytes,
                                                 useAsync: true))
                {
                    while (await call.ResponseStream.MoveNext(cancel))
                    {
                        byte[] data = call.ResponseStream.Current.Data.ToByteArray();
                        await file.WriteAsync(data, 0, data.Length, cancel);
                        written += data.Length;
                    }
                }
                if (File.Exists(path)) File.Delete(path);  // File.Move cannot overwrite in .NET Standard 2.1
                File.Move(part, path);
                return written;
            }
            catch
            {
                if (File.Exists(part)) File.Delete(part);  // never leave a truncated BVH behind
                throw;
            }
        }

        /// <summary>One page of the library (pageSize 1..1000; pageToken from the previous page, or "").</summary>
        public async Task<Api.ListMotionsResponse> ListMotionsAsync(uint pageSize = 100, string pageToken = "",
                                                                    CancellationToken cancel = default(CancellationToken))
        {
            var request = new Api.ListMotionsRequest { PageSize = pageSize, PageToken = pageToken ?? "" };
            using (var call = stub.ListMotionsAsync(request, headers, Deadline(), cancel))
            {
                return await call.ResponseAsync;
            }
        }

        public void Dispose()
        {
            channel.Dispose();
        }
    }
}
