// kefu embed: <script src="https://kefu.example.com/embed.js" async></script>
// adds a chat bubble to the shop's page that opens the chat in an iframe.
//
// A shop whose customer is signed in says who they are, signed by its server
// (README "Who the customer is"), before the script:
//   <script>window.kefuSettings = {user: {id, name, phone, level, ts, hash}};</script>
// and, on a page that signs in or out without a reload:
//   kefu.identify({id, name, phone, level, ts, hash});   kefu.logout();
// The identity goes to the chat in the iframe's URL fragment, which is never
// sent to a server nor in a Referer.
(function () {
  var s = document.currentScript;
  var base = s ? new URL(s.src).origin : "";
  var settings = window.kefuSettings || {};
  var user = settings.user || null;
  var open = false, frame = null;
  function src() {
    return base + "/#" + (user ? "identity=" + encodeURIComponent(JSON.stringify(user)) : "anonymous");
  }
  var b = document.createElement("button");
  b.textContent = "客服";
  b.setAttribute("aria-label", "chat");
  b.id = "kefu-bubble";
  b.style.cssText = "position:fixed;right:16px;bottom:16px;z-index:2147483000;width:56px;height:56px;border-radius:50%;border:0;background:#1677ff;color:#fff;font-size:15px;box-shadow:0 4px 12px rgba(0,0,0,.2);cursor:pointer";
  b.onclick = function () {
    if (!frame) {
      frame = document.createElement("iframe");
      frame.src = src();
      frame.title = "chat";
      frame.id = "kefu-frame";
      frame.style.cssText = "position:fixed;right:16px;bottom:84px;z-index:2147483000;width:min(380px,calc(100vw - 32px));height:min(600px,calc(100vh - 110px));border:0;border-radius:12px;box-shadow:0 8px 24px rgba(0,0,0,.2);background:#fff";
      document.body.appendChild(frame);
    }
    open = !open;
    frame.style.display = open ? "block" : "none";
  };
  // A new fragment is a same-document navigation: the open chat switches to
  // the new customer without reloading.
  function update(u) {
    user = u || null;
    if (frame) frame.src = src();
  }
  window.kefu = { identify: function (u) { update(u); }, logout: function () { update(null); } };
  document.body.appendChild(b);
})();
