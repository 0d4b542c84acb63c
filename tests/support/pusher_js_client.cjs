// A real pusher-js client against the Pusher simulator; prints one JSON line per event.
// Usage: node pusher_js_client.cjs BASE_URL TOKEN STREAM... (NODE_PATH must reach pusher-js)
// BASE_URL is the REST side (session, auth); the socket is where the session says (wsHost, wsPort).
const Pusher = require("pusher-js");

async function main() {
  const [base, token, ...streams] = process.argv.slice(2);
  const auth = { Authorization: `Bearer ${token}` };
  const session = await (
    await fetch(`${base}/api/v2/ws/session`, {
      method: "POST",
      headers: { ...auth, "Content-Type": "application/json" },
      body: JSON.stringify({ streams }),
    })
  ).json();
  const { wsHost, wsPort, appKey, forceTls } = session.connection;
  const pusher = new Pusher(appKey, {
    cluster: "sim",
    wsHost,
    wsPort,
    forceTLS: forceTls,
    enabledTransports: ["ws"],
    disableStats: true,
    channelAuthorization: {
      // The endpoint needs the Bearer token, so the request is made here.
      customHandler: async ({ socketId, channelName }, callback) => {
        const response = await fetch(`${base}/api/v2/ws/auth`, {
          method: "POST",
          headers: { ...auth, "Content-Type": "application/x-www-form-urlencoded" },
          body: new URLSearchParams({ socket_id: socketId, channel_name: channelName }),
        });
        if (response.status !== 200) callback(new Error(`auth ${response.status}`), null);
        else callback(null, await response.json());
      },
    },
  });
  const say = (what) => console.log(JSON.stringify(what));
  pusher.connection.bind("state_change", (s) => say({ kind: "state", state: s.current }));
  pusher.connection.bind("error", (e) => say({ kind: "error", error: String(e?.error?.data?.message ?? e?.type ?? e) }));
  for (const item of session.channels) {
    const channel = pusher.subscribe(item.channel);
    channel.bind("pusher:subscription_succeeded", (data) =>
      say({ kind: "subscribed", channel: item.channel, members: data?.count ?? null }),
    );
    channel.bind("pusher:subscription_error", (e) => say({ kind: "subscription_error", channel: item.channel, error: String(e?.error ?? e?.status ?? e) }));
    channel.bind("pusher:member_added", (m) => say({ kind: "member_added", channel: item.channel, user_id: m.id }));
    channel.bind("pusher:member_removed", (m) => say({ kind: "member_removed", channel: item.channel, user_id: m.id }));
    channel.bind_global((event, data) => {
      if (!event.startsWith("pusher")) say({ kind: "event", channel: item.channel, event, data });
    });
  }
}

main().catch((e) => {
  console.error(String(e));
  process.exit(1);
});
