// Search a motionsearch server by text and save the top hit's BVH: the smallest useful Unity sample.
//
// UNTESTED: never compiled or run (no .NET SDK and no NuGet on the machine it was written on;
// see clients/unity/README.md).
//
// Add it to any GameObject, start the server (python -m server.serve), press Play: the hits are
// logged and the best one is saved to <persistentDataPath>/motionsearch/<id>.bvh. Or untick
// "Search On Start" and use the component's context menu "Search and save the top hit".
// `onSaved` receives the file's path, to hand to a BVH importer of your choice (Unity has none built in).
using System;
using System.IO;
using System.Threading;
using Grpc.Core;
using UnityEngine;
using UnityEngine.Events;

namespace MotionSearchUnity
{
    public class MotionSearchExample : MonoBehaviour
    {
        [Tooltip("host:port or http(s)://host:port of the server (python -m server.serve binds 127.0.0.1:50051)")]
        public string address = "127.0.0.1:50051";

        [Tooltip("The server's --token, if it requires one")]
        public string token = "";

        public string query = "a person waves";

        [Range(1, 100)]
        public int topK = 5;

        public bool searchOnStart = true;

        [Tooltip("Called on the main thread with the saved BVH's path")]
        public UnityEvent<string> onSaved = new UnityEvent<string>();

        public string LastSavedPath { get; private set; }

        MotionSearchClient client;
        readonly CancellationTokenSource cancel = new CancellationTokenSource();
        bool busy;

        void Awake()
        {
            client = new MotionSearchClient(address, token);
        }

        void Start()
        {
            if (searchOnStart) SearchAndSaveTopHit();
        }

        void OnDestroy()
        {
            cancel.Cancel();  // stops a call in flight; its await ends with OperationCanceledException or RpcException(Cancelled)
            if (client != null) client.Dispose();
        }

        // async void is right for a fire-and-forget Unity entry point, provided nothing escapes it:
        // every exception is caught and logged below.
        [ContextMenu("Search and save the top hit")]
        public async void SearchAndSaveTopHit()
        {
            if (busy) return;
            busy = true;
            try
            {
                var response = await client.SearchTextAsync(query, MotionSearchClient.Options((uint)topK), cancel.Token);
                // Back on the main thread here (Unity's SynchronizationContext): Unity APIs are safe to call.
                Debug.Log(string.Format("motionsearch: {0} of {1} motions for \"{2}\" ({3:F1} ms on the server)",
                                        response.Hits.Count, response.LibrarySize, query, response.ServerMs));
                foreach (var hit in response.Hits)
                {
                    Debug.Log(string.Format("{0,3}. {1:F3}  {2}  {3}/{4}  {5:F1} s  {6}", hit.Rank, hit.Score, hit.Motion.Id,
                                            hit.Motion.Content, hit.Motion.Style, hit.Motion.Seconds, hit.Motion.Caption));
                }
                if (response.Hits.Count == 0) return;

                var top = response.Hits[0].Motion;  // ids are letters, digits, '-', '_', '.': safe as a file name
                string folder = Path.Combine(Application.persistentDataPath, "motionsearch");
                Directory.CreateDirectory(folder);
                string path = Path.Combine(folder, top.Id + ".bvh");
                long bytes = await client.GetMotionToFileAsync(top.Id, path, cancel: cancel.Token);
                LastSavedPath = path;
                Debug.Log(string.Format("motionsearch: saved {0} ({1} bytes)", path, bytes));
                onSaved.Invoke(path);
            }
            catch (RpcException e)
            {
                // e.g. Unavailable: the server is not running or not reachable at `address`;
                // NotFound: an unknown id; Unauthenticated: a missing or wrong token.
                if (!cancel.IsCancellationRequested)
                    Debug.LogError(string.Format("motionsearch: {0}: {1}", e.StatusCode, e.Status.Detail));
            }
            catch (OperationCanceledException)
            {
                // the component was destroyed mid-call
            }
            catch (Exception e)  // IOException from saving, a misconfigured handler, ...
            {
                Debug.LogException(e);
            }
            finally
            {
                busy = false;
            }
        }
    }
}
