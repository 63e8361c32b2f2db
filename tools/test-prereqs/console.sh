# Sourced by test.sh: the web console's browser tests drive Debian's headless Chromium (PuppeteerSharp
# launches /usr/bin/chromium; nothing is downloaded at test time).
if ! command -v chromium >/dev/null 2>&1; then
  echo "installing chromium (apt)"; apt_install chromium
fi
chromium --version 2>/dev/null || true
