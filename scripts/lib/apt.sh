# Sourced by scripts/ensure-*.sh: installs Debian packages, with sudo when
# not root, quietly and without questions.
#   apt_install WHY [APT-OPTION...] PACKAGE...   WHY names the caller in the message
apt_install() {
  local why=$1
  shift
  local sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    sudo="sudo"
  fi
  local pkgs=() a
  for a in "$@"; do
    [[ $a == -* ]] || pkgs+=("$a")
  done
  echo "$why: installing ${pkgs[*]}" >&2
  $sudo apt-get update -qq
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}
