#!/usr/bin/env bash
# The framework example apps (examples/laravel, examples/symfony) behind nginx + php-fpm on
# 127.0.0.1, from Debian packages only (no Packagist). Used by tests/frameworks.rs and
# bench/http/run.sh; each served copy lives in its own directory (configs, sockets, logs, the
# app's writable state), so runs never share anything but the code.
#
#   scripts/frameworks.sh check                       exit 1 naming any missing Debian package
#   scripts/frameworks.sh prepare APP                 composer install (offline, path repository)
#   scripts/frameworks.sh configure APP DIR PORT EXT SOCKET REGION [FPM_CHILDREN]
#                                                     write DIR/{php.ini,fpm.conf,nginx.conf,env}
#   scripts/frameworks.sh serve APP DIR PORT EXT SOCKET REGION [FPM_CHILDREN]
#                                                     configure, then run php-fpm + nginx in the
#                                                     background (pids in DIR/*.pid) and wait for HTTP
#   scripts/frameworks.sh stop DIR                    stop what `serve` started
#   scripts/frameworks.sh php DIR ARGS...             the app's CLI (artisan / bin/console) with DIR's php.ini
#
# APP is laravel or symfony. EXT is the absolute path of eventsrv.so; SOCKET and REGION the
# daemon's. php-fpm runs the pool as root (-R) because tests and benchmarks run as root; in
# production use packaging/ and the pool's usual user.
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

# Debian packages the framework apps need (also in EVENTSRV_PACKAGES, scripts/lib.sh).
FRAMEWORK_PACKAGES=(nginx php8.2-fpm php8.2-sqlite3 php8.2-intl php8.2-mbstring php-laravel-framework
  php-symfony-framework-bundle php-symfony-console composer php8.2-curl)
# PHP extensions the apps load (shared modules on Debian; php.ini here loads them explicitly,
# since PHP_INI_SCAN_DIR points at an empty directory).
PHP_EXTENSIONS=(ctype iconv intl mbstring tokenizer pdo pdo_sqlite posix fileinfo)
PHP_FPM=php-fpm8.2
# Bound on waiting for the app to answer over HTTP after start.
SERVE_WAIT_TENTHS=300

die() { echo "frameworks.sh: $*" >&2; exit 1; }

app_dir() {
  case "$1" in
    laravel | symfony) echo "$REPO/examples/$1" ;;
    *) die "unknown app '$1' (laravel or symfony)" ;;
  esac
}

cmd_check() {
  local missing=()
  for package in "${FRAMEWORK_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
  done
  command -v "$PHP_FPM" >/dev/null || missing+=("php8.2-fpm ($PHP_FPM not on PATH)")
  if ((${#missing[@]})); then
    echo "missing Debian packages: ${missing[*]} (scripts/test.sh installs them: EVENTSRV_PACKAGES in scripts/lib.sh)" >&2
    exit 1
  fi
}

cmd_prepare() {
  local app; app="$(app_dir "$1")"
  # Offline: the eventsrv package comes from a `path` repository, Packagist is disabled in
  # composer.json, and the frameworks come from Debian's autoloaders.
  (cd "$app" && COMPOSER_ALLOW_SUPERUSER=1 COMPOSER_NO_INTERACTION=1 composer install --quiet --no-progress) \
    || die "composer install failed in $app"
}

cmd_configure() {
  (($# >= 6)) || die "configure APP DIR PORT EXT SOCKET REGION [FPM_CHILDREN]"
  local app_name="$1" dir="$2" port="$3" ext="$4" socket="$5" region="$6" children="${7:-4}"
  local app; app="$(app_dir "$app_name")"
  mkdir -p "$dir"/{ini.d,tmp,state}
  dir="$(cd "$dir" && pwd)"
  # nginx workers run as nobody and must reach the php-fpm socket in here (mktemp -d is 0700).
  chmod 0755 "$dir"
  # The app's writable state, per served copy.
  if [[ "$app_name" == laravel ]]; then
    mkdir -p "$dir"/state/{framework/views,framework/cache,framework/sessions,logs,bootstrap}
  else
    mkdir -p "$dir"/state/{cache,log}
  fi

  {
    echo "; written by scripts/frameworks.sh"
    echo "extension=$ext"
    for extension in "${PHP_EXTENSIONS[@]}"; do echo "extension=$extension"; done
    echo "zend_extension=opcache"
    echo "opcache.enable=1"
    echo "opcache.enable_cli=0"
    echo "opcache.validate_timestamps=1"
    echo "memory_limit=256M"
    echo "error_reporting=E_ALL"
    echo "display_errors=stderr"
    echo "log_errors=On"
    echo "error_log=$dir/php-errors.log"
    echo "eventsrv.socket=$socket"
    echo "eventsrv.region=$region"
    echo "eventsrv.persist_wait_ms=5000"
  } >"$dir/php.ini"

  # What both php-fpm (env[...]) and the CLI (exported) give the app.
  {
    if [[ "$app_name" == laravel ]]; then
      echo "APP_STORAGE=$dir/state"
      echo "APP_SERVICES_CACHE=$dir/state/bootstrap/services.php"
      echo "APP_PACKAGES_CACHE=$dir/state/bootstrap/packages.php"
    else
      echo "APP_VAR_DIR=$dir/state"
    fi
    echo "BANK_SQLITE=$dir/state/bank.sqlite"
  } >"$dir/env"

  {
    echo "[global]"
    echo "pid = $dir/fpm.pid"
    echo "error_log = $dir/fpm.log"
    echo "daemonize = no"
    echo "[$app_name]"
    echo "listen = $dir/fpm.sock"
    # nginx workers run as nobody: without 0666 every request is a 502.
    echo "listen.mode = 0666"
    echo "pm = static"
    echo "pm.max_children = $children"
    echo "catch_workers_output = yes"
    echo "clear_env = yes"
    while IFS= read -r line; do echo "env[${line%%=*}] = ${line#*=}"; done <"$dir/env"
  } >"$dir/fpm.conf"

  cat >"$dir/nginx.conf" <<EOF
# written by scripts/frameworks.sh
worker_processes 1;
pid $dir/nginx.pid;
error_log $dir/nginx-error.log warn;
daemon off;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path $dir/tmp/body;
    proxy_temp_path $dir/tmp/proxy;
    fastcgi_temp_path $dir/tmp/fastcgi;
    uwsgi_temp_path $dir/tmp/uwsgi;
    scgi_temp_path $dir/tmp/scgi;
    server {
        listen 127.0.0.1:$port;
        root $app/public;
        location / {
            try_files \$uri /index.php\$is_args\$args;
        }
        location = /index.php {
            include /etc/nginx/fastcgi_params;
            fastcgi_param SCRIPT_FILENAME \$document_root/index.php;
            fastcgi_pass unix:$dir/fpm.sock;
        }
    }
}
EOF
  echo "$app_name" >"$dir/app"
}

cmd_serve() {
  cmd_configure "$@"
  local dir; dir="$(cd "$2" && pwd)"
  local port="$3"
  PHP_INI_SCAN_DIR="$dir/ini.d" setsid "$PHP_FPM" -F -R -y "$dir/fpm.conf" -c "$dir/php.ini" \
    >>"$dir/fpm.log" 2>&1 </dev/null &
  echo $! >"$dir/fpm.supervised.pid"
  setsid nginx -c "$dir/nginx.conf" -p "$dir" >>"$dir/nginx-error.log" 2>&1 </dev/null &
  echo $! >"$dir/nginx.supervised.pid"
  for _ in $(seq 1 "$SERVE_WAIT_TENTHS"); do
    if curl -fsS -o /dev/null "http://127.0.0.1:$port/api/status" 2>/dev/null; then
      return 0
    fi
    sleep 0.1
  done
  tail -n 20 "$dir"/*.log >&2 || true
  die "the $1 app did not answer on 127.0.0.1:$port"
}

cmd_stop() {
  local dir="$1"
  for name in nginx fpm; do
    if [[ -f "$dir/$name.supervised.pid" ]]; then
      kill -TERM "$(cat "$dir/$name.supervised.pid")" 2>/dev/null || true
      rm -f "$dir/$name.supervised.pid"
    fi
  done
}

cmd_php() {
  local dir; dir="$(cd "$1" && pwd)"; shift
  local app_name; app_name="$(cat "$dir/app")"
  local app; app="$(app_dir "$app_name")"
  local cli=("$app/artisan")
  [[ "$app_name" == symfony ]] && cli=("$app/bin/console")
  set -a; source "$dir/env"; set +a
  PHP_INI_SCAN_DIR="$dir/ini.d" exec php -c "$dir/php.ini" "${cli[@]}" "$@"
}

command="${1:-}"
shift || true
case "$command" in
  check) cmd_check ;;
  prepare) cmd_prepare "$@" ;;
  configure) cmd_configure "$@" ;;
  serve) cmd_serve "$@" ;;
  stop) cmd_stop "$@" ;;
  php) cmd_php "$@" ;;
  *) sed -n '2,20p' "$0" >&2; exit 2 ;;
esac
