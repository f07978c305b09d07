# Shared by the scripts (sourced, not run): one set of cargo settings, and npm installs and the
# web UI's build done only when their inputs changed, judged by content, never by file times.

export PATH="$HOME/.cargo/bin:$PATH"

# rust-toolchain.toml pins the release the suite passes with.
pinned_release() { sed -n 's/^channel *= *"\(.*\)"/\1/p' rust-toolchain.toml; }
has_toolchain() { rustup toolchain list | grep -q "^$1\(-\| \|$\)"; }

# Makes the pinned release available (setup.sh): a machine whose default toolchain is that release
# under another name (stable) gets it linked under the pinned name, with no download; elsewhere
# rustup installs it.
ensure_pinned_toolchain() {
  command -v rustup >/dev/null || return 0
  local pinned default host
  pinned="$(pinned_release)"
  has_toolchain "$pinned" && return 0
  default="$(cd / && rustc --version | cut -d' ' -f2)"
  if [ "$default" = "$pinned" ]; then
    # (`rustup toolchain link` refuses a release's name, so the link is made as rustup lays out
    # an installed release: toolchains/<release>-<host>.)
    host="$(cd / && rustc -vV | sed -n 's/^host: //p')"
    echo "setup: the default toolchain is rustc $default: linking it as $pinned-$host"
    ln -sfn "$(cd / && rustc --print sysroot)" "${RUSTUP_HOME:-$HOME/.rustup}/toolchains/$pinned-$host"
  else
    echo "setup: installing Rust $pinned (rust-toolchain.toml; the default is $default)"
    rustup toolchain install "$pinned" --profile minimal --component rustfmt,clippy \
      || echo "setup: WARNING: Rust $pinned cannot be installed here; the scripts build with the default toolchain ($default) instead" >&2
  fi
}

# On a machine that has neither the pinned release nor a way to fetch it, the scripts build with
# the default toolchain and say so, rather than failing on rustup's download. Runs when this file
# is sourced, except in setup.sh, which first tries ensure_pinned_toolchain.
use_pinned_or_default() {
  if command -v rustup >/dev/null 2>&1 && [ -z "${RUSTUP_TOOLCHAIN:-}" ] && ! has_toolchain "$(pinned_release)"; then
    echo "WARNING: Rust $(pinned_release) (rust-toolchain.toml) is not installed; building with the default toolchain" >&2
    RUSTUP_TOOLCHAIN="$(cd / && rustup show active-toolchain | cut -d' ' -f1)"
    export RUSTUP_TOOLCHAIN
  fi
}
[ "${KYC_DESK_SETTING_UP:-}" = 1 ] || use_pinned_or_default

# The settings every build of the suite uses, so that clippy's lints, the test binaries and the
# binary the UI suites drive come out of one build of the workspace, not three:
# - no debug info (smaller, faster links);
# - clippy-driver as the workspace crates' compiler: what `cargo clippy` runs, but here during the
#   real build, so each workspace crate is linted while it is compiled and the dependencies are
#   compiled once (a separate `cargo clippy` builds all of them again, in check mode). The lints
#   and `-D warnings` apply to the workspace's crates only, exactly as with `cargo clippy`.
use_suite_cargo() {
  export CARGO_PROFILE_DEV_DEBUG=0
  RUSTC_WORKSPACE_WRAPPER="$(command -v clippy-driver)" || {
    echo "clippy-driver not found: rustup component add clippy" >&2
    return 1
  }
  export RUSTC_WORKSPACE_WRAPPER
  export CLIPPY_ARGS="-D__CLIPPY_HACKERY__warnings__CLIPPY_HACKERY__"
  # A CI build is cold and never reused: incremental compilation's bookkeeping would be written
  # for nothing (kept on a developer's machine, where the next run reuses it).
  if [ -n "${CI:-}" ]; then export CARGO_INCREMENTAL=0; fi
}

# cargo-nextest runs the Rust tests of every test binary side by side (cargo test runs one
# binary at a time, so one long test leaves a core idle); installed if missing.
ensure_nextest() {
  if ! cargo nextest --version >/dev/null 2>&1; then
    echo "cargo-nextest: installing (cargo install)"
    cargo install cargo-nextest --locked
  fi
}

# The digest of some files' contents (and of Node's version, which npm's output depends on).
content_digest() {
  { node --version; find "$@" -type f -print0 | sort -z | xargs -0 sha256sum; } | sha256sum | cut -d' ' -f1
}

# `npm ci` in $1 unless node_modules already holds what its package-lock.json names.
npm_ci_once() {
  local dir="$1" stamp="$1/node_modules/.kyc-desk-installed" want
  want="$(content_digest "$dir/package.json" "$dir/package-lock.json")"
  if [ -d "$dir/node_modules" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
    echo "npm: $dir is up to date"
    return 0
  fi
  echo "npm: npm ci in $dir"
  (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
  echo "$want" > "$stamp"
}

# Builds the web UI into ui/dist unless ui/dist was built from exactly these sources. Rewriting an
# unchanged ui/dist would make the assets the binary embeds look new and relink it.
ui_build_once() {
  npm_ci_once ui
  local stamp="target/ui-build.digest" want
  want="$(content_digest ui -path ui/node_modules -prune -o -path ui/dist -prune -o)"
  if [ -f ui/dist/index.html ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
    echo "ui: ui/dist is up to date"
    return 0
  fi
  echo "ui: building the web UI (ui/dist)"
  (cd ui && npm run build --silent)
  mkdir -p target
  echo "$want" > "$stamp"
}
