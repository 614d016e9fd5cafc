# Sourced by run.sh and test.sh.
# ensure_build DIR [OPTION…]: sets up the build directory DIR with the options, or applies them to
# it. A directory this meson cannot use (made by another meson version, or left by an
# interrupted setup: "Directory already configured" without a build.ninja) is set up anew.
ensure_build() {
  local dir=$1; shift
  if [ -f "$dir/build.ninja" ] && meson configure "$dir" > /dev/null 2>&1; then
    if [ $# -gt 0 ]; then
      meson configure "$dir" "$@"
    fi
  else
    if [ -e "$dir" ]; then
      echo "Setting up $dir anew: this meson cannot use it as it is." >&2
      rm -rf "$dir"
    fi
    meson setup "$dir" "$@"
  fi
}
