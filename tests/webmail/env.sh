#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The webmail test environment on loopback only: Roundcube from Debian's packages under PHP's
# built-in server, Dovecot in the foreground with Maildir, and an SMTP sink that records each
# message byte-exact. Everything lives in one folder given on the command line.
#
#   env.sh start DIR      create DIR, start the three servers, wait until they answer
#   env.sh stop DIR       stop them
#   env.sh deliver DIR USER FILE   drop FILE into USER's Maildir (INBOX, unread)
#
# Ports (fixed, loopback): web SMIME_WEBMAIL_PORT (18480), IMAP 18143, SMTP 18025.
# Users: alice@example.test / alice-secret, bob@example.test / bob-secret.
# Needs (installer/deps.sh --test): roundcube-core roundcube-sqlite3 php8.2-cli dovecot-imapd
# sqlite3 python3.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
WEB_PORT="${SMIME_WEBMAIL_PORT:-18480}"
IMAP_PORT="${SMIME_IMAP_PORT:-18143}"
SMTP_PORT="${SMIME_SMTP_PORT:-18025}"
RC=/usr/share/roundcube

die() { echo "webmail env: $*" >&2; exit 1; }

wait_port() {
    local port="$1" what="$2"
    for _ in $(seq 1 100); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then return 0; fi
        sleep 0.1
    done
    die "$what did not start on 127.0.0.1:$port (logs in $T/logs)"
}

# Dovecot will not hand mail to uid 0; as root the mail belongs to nobody, otherwise to the caller.
mail_owner() {
    if [[ $(id -u) -eq 0 ]]; then echo "65534:65534"; else echo "$(id -u):$(id -g)"; fi
}

maildir_of() { echo "$T/mail/$1/Maildir"; }

make_maildir() {
    local md
    md="$(maildir_of "$1")"
    mkdir -p "$md/cur" "$md/new" "$md/tmp"
    chown -R "$(mail_owner)" "$T/mail"
}

start() {
    [[ -d "$RC/program" ]] || die "Roundcube is not installed (installer/deps.sh --test)"
    command -v dovecot >/dev/null || die "dovecot is not installed (installer/deps.sh --test)"
    command -v php8.2 >/dev/null || die "php8.2-cli is not installed (installer/deps.sh --test)"
    mkdir -p "$T"/{logs,temp,db,config,run,mail,smtp,www/plugins}
    chmod 755 "$T"
    local owner uid gid user group
    owner="$(mail_owner)"; uid="${owner%:*}"; gid="${owner#*:}"
    if [[ $(id -u) -eq 0 ]]; then user=root; group=root; else user="$(id -un)"; group="$(id -gn)"; fi

    # --- Dovecot ---
    printf '%s\n' "alice@example.test:{PLAIN}alice-secret" "bob@example.test:{PLAIN}bob-secret" > "$T/users"
    cat > "$T/dovecot.conf" <<CONF
protocols = imap
listen = 127.0.0.1
base_dir = $T/run
state_dir = $T/run
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
log_path = $T/logs/dovecot.log
default_login_user = $([[ $(id -u) -eq 0 ]] && echo nobody || echo "$user")
default_internal_user = $user
default_internal_group = $group
service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = $IMAP_PORT
  }
}
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%u $T/users
}
userdb {
  driver = static
  args = uid=$uid gid=$gid home=$T/mail/%u
}
mail_location = maildir:$T/mail/%u/Maildir
namespace inbox {
  inbox = yes
  mailbox Sent {
    auto = subscribe
    special_use = \\Sent
  }
}
CONF
    make_maildir alice@example.test
    make_maildir bob@example.test
    (setsid dovecot -F -c "$T/dovecot.conf" </dev/null >"$T/logs/dovecot.out" 2>&1 & echo $! > "$T/run/dovecot.pid")

    # --- SMTP sink ---
    (setsid python3 "$here/smtp-sink.py" "$SMTP_PORT" "$T/smtp" </dev/null >"$T/logs/smtp.log" 2>&1 & echo $! > "$T/run/smtp.pid")

    # --- Roundcube: the packaged code, this folder's docroot, config and database ---
    local entry
    for entry in index.php program SQL skins; do ln -sfn "/var/lib/roundcube/$entry" "$T/www/$entry"; done
    for entry in jqueryui filesystem_attachments; do ln -sfn "$RC/plugins/$entry" "$T/www/plugins/$entry"; done
    # Installed as README (webmail/roundcube) says: the plugin folder plus the extension's client library.
    rm -rf "$T/www/plugins/smime"
    cp -r "$root/webmail/roundcube/smime" "$T/www/plugins/smime"
    if [[ -f "$root/extension/dist/page-api/smime-webmail.js" ]]; then
        cp "$root/extension/dist/page-api/smime-webmail.js" "$T/www/plugins/smime/"
    else
        echo "webmail env: no extension/dist/page-api/smime-webmail.js (build the extension); the plugin will find no API" >&2
    fi
    cp /etc/roundcube/defaults.inc.php /etc/roundcube/mimetypes.php "$T/config/"
    cat > "$T/config/config.inc.php" <<CONF
<?php
\$config = [];
\$config['db_dsnw'] = 'sqlite:///$T/db/roundcube.db?mode=0640';
\$config['imap_host'] = '127.0.0.1:$IMAP_PORT';
\$config['smtp_host'] = '127.0.0.1:$SMTP_PORT';
\$config['smtp_user'] = '';
\$config['smtp_pass'] = '';
\$config['des_key'] = '$(head -c 18 /dev/urandom | base64)';
\$config['log_dir'] = '$T/logs/';
\$config['temp_dir'] = '$T/temp/';
\$config['product_name'] = 'Roundcube Webmail';
\$config['skin'] = 'elastic';
\$config['plugins'] = ['smime'];
\$config['create_default_folders'] = true;
\$config['max_message_size'] = '64M';
\$config['enable_spellcheck'] = false;
\$config['smime_sign_default'] = true;
\$config['smime_encrypt_default'] = false;
CONF
    [[ -f "$T/db/roundcube.db" ]] || sqlite3 "$T/db/roundcube.db" < "$RC/SQL/sqlite.initial.sql"
    printf '<?php\ndefine("INSTALL_PATH", "%s/www/");\n' "$T" > "$T/prepend.php"
    (cd "$T/www" || exit 1
     ROUNDCUBE_CONFIG_DIR="$T/config" PHP_CLI_SERVER_WORKERS=4 setsid php8.2 \
        -d auto_prepend_file="$T/prepend.php" -d upload_max_filesize=64M -d post_max_size=80M \
        -d memory_limit=1024M -d display_errors=0 -d log_errors=1 -d error_log="$T/logs/php.log" \
        -S "127.0.0.1:$WEB_PORT" -t "$T/www" </dev/null >"$T/logs/php-server.log" 2>&1 &
     echo $! > "$T/run/php.pid")

    wait_port "$IMAP_PORT" dovecot
    wait_port "$SMTP_PORT" "the SMTP sink"
    wait_port "$WEB_PORT" "php -S"
    echo "webmail env: http://127.0.0.1:$WEB_PORT/ IMAP 127.0.0.1:$IMAP_PORT SMTP sink 127.0.0.1:$SMTP_PORT -> $T/smtp"
}

stop() {
    local name pid
    if [[ -f "$T/run/master.pid" ]]; then kill "$(cat "$T/run/master.pid")" 2>/dev/null || true; fi
    for name in php smtp dovecot; do
        if [[ -f "$T/run/$name.pid" ]]; then
            pid="$(cat "$T/run/$name.pid")"
            # setsid made each server the leader of its own process group.
            kill -- "-$pid" 2>/dev/null || kill "$pid" 2>/dev/null || true
            rm -f "$T/run/$name.pid"
        fi
    done
}

deliver() {
    local user="$1" file="$2" md name
    make_maildir "$user"
    md="$(maildir_of "$user")"
    name="$(date +%s).$$_$RANDOM.webmail-test"
    cp "$file" "$md/tmp/$name"
    chown "$(mail_owner)" "$md/tmp/$name"
    mv "$md/tmp/$name" "$md/new/$name"
}

[[ $# -ge 2 ]] || die "usage: env.sh start|stop DIR | env.sh deliver DIR USER FILE"
T="$(mkdir -p "$2" && cd "$2" && pwd)"
case "$1" in
    start) start ;;
    stop) stop ;;
    deliver) [[ $# -eq 4 ]] || die "usage: env.sh deliver DIR USER FILE"; deliver "$3" "$4" ;;
    *) die "unknown command $1" ;;
esac
