// A real pusher-js client against the Pusher simulator's plain-app mode; one JSON line per event.
// Usage: node pusher_js_app_client.cjs KEY WS_PORT AUTH_URL USER_AUTH_URL TOKEN CHANNEL...
// (NODE_PATH must reach pusher-js). pusher-js's own auth transport posts to the app's
// endpoints with the Bearer header, as a browser app configures it; it signs in first.
const Pusher = require("pusher-js");

const [key, wsPort, authUrl, userAuthUrl, token, ...channels] = process.argv.slice(2);
const headers = { Authorization: `Bearer ${token}` };
const pusher = new Pusher(key, {
  cluster: "sim",
  wsHost: "127.0.0.1",
  wsPort: Number(wsPort),
  forceTLS: false,
  enabledTransports: ["ws"],
  disableStats: true,
  channelAuthorization: { endpoint: authUrl, transport: "ajax", headers },
  userAuthentication: { endpoint: userAuthUrl, transport: "ajax", headers },
});
const say = (what) => console.log(JSON.stringify(what));
pusher.connection.bind("state_change", (s) => say({ kind: "state", state: s.current }));
pusher.connection.bind("error", (e) =>
  say({ kind: "error", error: String(e?.error?.data?.message ?? e?.type ?? e) }),
);
pusher.signin();
pusher.user.signinDonePromise.then(() =>
  say({ kind: "signed_in", user: pusher.user.user_data?.id ?? null }),
);
pusher.user.bind_global((event) => say({ kind: "user_event", event }));
for (const name of channels) {
  const channel = pusher.subscribe(name);
  channel.bind("pusher:subscription_succeeded", (data) =>
    say({ kind: "subscribed", channel: name, members: data?.count ?? null }),
  );
  channel.bind("pusher:subscription_error", (e) =>
    say({ kind: "subscription_error", channel: name, error: String(e?.error ?? e?.status ?? e) }),
  );
  channel.bind("pusher:member_added", (m) =>
    say({ kind: "member_added", channel: name, user_id: m.id }),
  );
  channel.bind_global((event, data) => {
    if (!event.startsWith("pusher")) say({ kind: "event", channel: name, event, data });
  });
}
