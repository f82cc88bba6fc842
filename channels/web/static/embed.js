// kefu embed: <script src="https://kefu.example.com/embed.js" async></script>
// adds a chat bubble to the shop's page that opens the chat in an iframe.
(function () {
  var s = document.currentScript;
  var base = s ? new URL(s.src).origin : "";
  var open = false, frame = null;
  var b = document.createElement("button");
  b.textContent = "客服";
  b.setAttribute("aria-label", "chat");
  b.style.cssText = "position:fixed;right:16px;bottom:16px;z-index:2147483000;width:56px;height:56px;border-radius:50%;border:0;background:#1677ff;color:#fff;font-size:15px;box-shadow:0 4px 12px rgba(0,0,0,.2);cursor:pointer";
  b.onclick = function () {
    if (!frame) {
      frame = document.createElement("iframe");
      frame.src = base + "/";
      frame.title = "chat";
      frame.style.cssText = "position:fixed;right:16px;bottom:84px;z-index:2147483000;width:min(380px,calc(100vw - 32px));height:min(600px,calc(100vh - 110px));border:0;border-radius:12px;box-shadow:0 8px 24px rgba(0,0,0,.2);background:#fff";
      document.body.appendChild(frame);
    }
    open = !open;
    frame.style.display = open ? "block" : "none";
  };
  document.body.appendChild(b);
})();
