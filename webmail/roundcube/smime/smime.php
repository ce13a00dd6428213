<?php
# SPDX-License-Identifier: MIT
# S/MIME for Roundcube through the smime-host browser extension: the page hands the message
# Roundcube built to the extension, which signs or encrypts it with the user's local keys, and
# Roundcube delivers and files exactly the bytes that come back; S/MIME mail opens in the
# extension's own viewer. No key and no plaintext of encrypted mail reaches this server.

require_once __DIR__ . '/smime_mime_message.php';

class smime extends rcube_plugin
{
    public $task = 'mail|settings';

    /** @var rcmail */
    private $rc;
    /** @var array|null Bcc copies still to deliver after the main message went out */
    private $pending_bcc;
    private $delivering_bcc = false;

    public function init()
    {
        $this->rc = rcmail::get_instance();
        $this->load_config();

        if ($this->rc->task == 'settings') {
            $this->add_texts('localization/');
            $this->add_hook('preferences_list', [$this, 'preferences_list']);
            $this->add_hook('preferences_save', [$this, 'preferences_save']);
            return;
        }

        $this->register_action('plugin.smime-built', [$this, 'action_built']);
        $this->register_action('plugin.smime-upload', [$this, 'action_upload']);
        $this->add_hook('message_ready', [$this, 'message_ready']);
        $this->add_hook('message_sent', [$this, 'message_sent']);

        $action = $this->rc->action;
        if ($action == 'compose' || $action == 'show' || $action == 'preview') {
            $this->add_texts('localization/', true);
            $this->include_script('smime-webmail.js');
            $this->include_script('smime.js');
            $this->include_stylesheet($this->local_skin_path() . '/smime.css');
        }
        if ($action == 'compose') {
            $this->rc->output->set_env('smime_compose', [
                'sign'    => (bool) $this->rc->config->get('smime_sign_default', false),
                'encrypt' => (bool) $this->rc->config->get('smime_encrypt_default', false),
            ]);
        }
        if ($action == 'show' || $action == 'preview') {
            $this->add_hook('message_load', [$this, 'message_load']);
        }
    }

    /** Marks S/MIME messages so the page hands them to the extension's viewer. */
    public function message_load($args)
    {
        $message = $args['object'];
        $kind = self::smime_kind($message->headers->structure ?? null);
        if ($kind) {
            $this->rc->output->set_env('smime_message', $kind);
        }

        return $args;
    }

    /** "signed" or "encrypted" for an S/MIME top level (RFC 8551 section 3), otherwise null. */
    public static function smime_kind($part)
    {
        if (!$part) {
            return null;
        }
        $type     = strtolower((string) $part->mimetype);
        $protocol = strtolower((string) ($part->ctype_parameters['protocol'] ?? ''));
        if ($type == 'multipart/signed'
            && ($protocol == 'application/pkcs7-signature' || $protocol == 'application/x-pkcs7-signature')
        ) {
            return 'signed';
        }
        if ($type == 'application/pkcs7-mime' || $type == 'application/x-pkcs7-mime') {
            $smime_type = strtolower((string) ($part->ctype_parameters['smime-type'] ?? ''));
            return $smime_type == 'signed-data' ? 'signed' : 'encrypted';
        }
        if ($type == 'application/octet-stream'
            && preg_match('/\.p7m$/i', (string) ($part->filename ?? $part->ctype_parameters['name'] ?? ''))
        ) {
            return 'encrypted';
        }

        return null;
    }

    /**
     * Two passes through Roundcube's own send action. "build": stop after the message is built
     * and keep it for the page to fetch. "send": replace the built message by the protected bytes
     * the page uploaded, once they are checked against what was built.
     */
    public function message_ready($args)
    {
        $phase = rcube_utils::get_input_string('_smime_phase', rcube_utils::INPUT_POST);
        if ($phase === '' || $phase === null || !empty($_POST['_draft']) || !empty($_GET['_saveonly'])) {
            return $args;
        }
        $cid = rcube_utils::get_input_string('_id', rcube_utils::INPUT_GPC);
        $this->forget($cid, $phase == 'build');

        if ($phase == 'build') {
            $mime = $args['message']->getMessage();
            if (is_a($mime, 'PEAR_Error')) {
                $this->fail('smime.builderror', 'build failed: ' . $mime->getMessage());
            }
            $path = $this->temp_file($mime);
            $_SESSION['smime'][$cid] = ['built' => $path, 'bcc' => []];
            $this->rc->output->command('plugin.smime_built', ['id' => $cid, 'size' => strlen($mime)]);
            $this->rc->output->send('iframe');
        }

        if ($phase != 'send') {
            $this->fail('smime.builderror', "unknown phase $phase");
        }

        $state   = $_SESSION['smime'][$cid] ?? [];
        $encrypt = !empty($_POST['_smime_encrypt']);
        $sign    = !empty($_POST['_smime_sign']);
        $main    = !empty($state['main']) && is_file($state['main']) ? file_get_contents($state['main']) : null;
        if ($main === null) {
            $this->fail('smime.builderror', 'no protected message was uploaded');
        }

        $built = $args['message']->headers();
        $error = $this->check_protected($main, $built, $sign, $encrypt, $built['To'] ?? '', $built['Cc'] ?? '');
        $bcc_built = self::addresses($built['Bcc'] ?? '');
        $copies = [];
        foreach ((array) ($state['bcc'] ?? []) as $copy) {
            $bytes = is_file($copy['path']) ? file_get_contents($copy['path']) : '';
            $error = $error ?: $this->check_protected($bytes, $built, $sign, true, $built['To'] ?? '', $built['Cc'] ?? '');
            $copies[strtolower($copy['address'])] = $bytes;
        }
        // Encrypted: one separate copy per Bcc recipient, and no other. Signed only: the SMTP
        // envelope reaches Bcc recipients with the one signed message.
        $expected = $encrypt ? $bcc_built : [];
        sort($expected);
        $got = array_keys($copies);
        sort($got);
        if (!$error && $got !== $expected) {
            $error = 'the Bcc copies are not one per Bcc recipient';
        }
        if ($error) {
            $this->forget($cid, true);
            $this->fail('smime.mismatch', $error);
        }

        $fields = $built;
        if ($encrypt) {
            unset($fields['Bcc']);
            $this->pending_bcc = [];
            foreach ($copies as $address => $bytes) {
                $this->pending_bcc[$address] = new smime_mime_message(
                    $bytes, ['From' => $built['From'], 'Message-ID' => $built['Message-ID']]);
            }
        }
        $args['message'] = new smime_mime_message($main, $fields);
        $this->forget($cid, true);

        return $args;
    }

    /** After the main message went out: each Bcc recipient gets their own encrypted copy. */
    public function message_sent($args)
    {
        if ($this->delivering_bcc || empty($this->pending_bcc)) {
            return $args;
        }
        $this->delivering_bcc = true;
        $from = rcube_utils::get_input_string('_from', rcube_utils::INPUT_POST);
        $from = $this->rc->user->get_identity($from)['email'] ?? null;
        foreach ($this->pending_bcc as $address => $copy) {
            $error = null;
            if (!$this->rc->deliver_message($copy, $from, $address, $error)) {
                rcube::raise_error(['code' => 800, 'type' => 'smtp', 'file' => __FILE__, 'line' => __LINE__,
                    'message' => "S/MIME: the Bcc copy for $address was not delivered"], true, false);
                $this->rc->output->show_message('smime.bccfailed', 'warning', ['address' => $address]);
            }
        }
        $this->pending_bcc = null;
        $this->delivering_bcc = false;

        return $args;
    }

    /** GET: the message Roundcube built in the "build" pass, byte for byte. */
    public function action_built()
    {
        $this->require_page_request();
        $cid  = rcube_utils::get_input_string('_id', rcube_utils::INPUT_GET);
        $path = $_SESSION['smime'][$cid]['built'] ?? null;
        if (!$path || !is_file($path)) {
            $this->reply_status(404);
        }
        header('Content-Type: application/octet-stream');
        header('Content-Length: ' . filesize($path));
        header('Cache-Control: no-store');
        readfile($path);
        exit;
    }

    /** POST (raw body): the protected message, or one Bcc copy (`_kind=bcc&_address=`). */
    public function action_upload()
    {
        $this->require_page_request();
        $cid  = rcube_utils::get_input_string('_id', rcube_utils::INPUT_GET);
        $kind = rcube_utils::get_input_string('_kind', rcube_utils::INPUT_GET);
        if (!isset($_SESSION['smime'][$cid]) || !in_array($kind, ['main', 'bcc'], true)) {
            $this->reply_status(400);
        }
        $limit = parse_bytes($this->rc->config->get('max_message_size', '100M')) * 2;
        $bytes = file_get_contents('php://input', false, null, 0, $limit + 1);
        if ($bytes === false || $bytes === '' || strlen($bytes) > $limit) {
            $this->reply_status(413);
        }
        $path = $this->temp_file($bytes);
        if ($kind == 'main') {
            $_SESSION['smime'][$cid]['main'] = $path;
        } else {
            $address = rcube_utils::get_input_string('_address', rcube_utils::INPUT_GET);
            $_SESSION['smime'][$cid]['bcc'][] = ['address' => $address, 'path' => $path];
        }
        header('Content-Type: application/json');
        echo json_encode(['ok' => true, 'size' => strlen($bytes)]);
        exit;
    }

    /**
     * Null when $bytes is a protected form of what Roundcube built (same sender, Message-ID, To
     * and Cc, no Bcc field, the S/MIME type the toggles asked for), otherwise why not.
     */
    private function check_protected($bytes, array $built, $sign, $encrypt, $to, $cc)
    {
        $split = strpos($bytes, "\r\n\r\n");
        if ($split === false) {
            return 'not a message';
        }
        $fields = self::parse_header(substr($bytes, 0, $split + 2));
        $same = function ($name, $value) use ($fields) {
            $a = self::addresses(implode(',', $fields[strtolower($name)] ?? []));
            $b = self::addresses($value);
            sort($a);
            sort($b);
            return $a === $b;
        };
        if (count($fields['from'] ?? []) != 1 || !$same('From', $built['From'])) {
            return 'the sender differs from the one Roundcube built';
        }
        if (trim(implode('', $fields['message-id'] ?? [])) !== trim($built['Message-ID'])) {
            return 'the Message-ID differs from the one Roundcube built';
        }
        if (!$same('To', $to) || !$same('Cc', $cc)) {
            return 'the recipients differ from the ones Roundcube built';
        }
        if (isset($fields['bcc'])) {
            return 'the protected message still has a Bcc field';
        }
        $type = strtolower(implode('', $fields['content-type'] ?? []));
        $enveloped = preg_match('#^application/(x-)?pkcs7-mime\s*;.*smime-type\s*=\s*"?(authenveloped|enveloped)-data#s', $type);
        $signed = preg_match('#^multipart/signed\s*;.*application/(x-)?pkcs7-signature#s', $type)
            || preg_match('#^application/(x-)?pkcs7-mime\s*;.*smime-type\s*=\s*"?signed-data#s', $type);
        if ($encrypt ? !$enveloped : ($sign && !$signed)) {
            return 'the message is not ' . ($encrypt ? 'encrypted' : 'signed');
        }

        return null;
    }

    /** Header fields by lowercase name, unfolded (RFC 5322 section 2.2.3). */
    private static function parse_header($head)
    {
        $fields = [];
        foreach (preg_split('/\r\n(?![ \t])/', rtrim($head, "\r\n")) as $line) {
            $colon = strpos($line, ':');
            if ($colon !== false) {
                $fields[strtolower(trim(substr($line, 0, $colon)))][] = trim(preg_replace('/\r\n[ \t]/', ' ', substr($line, $colon + 1)));
            }
        }

        return $fields;
    }

    /** Lowercase addresses of an address list. */
    private static function addresses($value)
    {
        $list = [];
        foreach (rcube_mime::decode_address_list((string) $value, null, false, null, true) as $address) {
            $list[] = strtolower($address);
        }

        return array_values(array_unique($list));
    }

    private function require_page_request()
    {
        // A raw POST leaves $_POST empty, which Roundcube's own check lets through; demand the
        // header the page's requests carry.
        if (rcube_utils::request_header('X-Roundcube-Request') !== $this->rc->get_request_token()) {
            $this->reply_status(403);
        }
    }

    private function reply_status($code)
    {
        http_response_code($code);
        exit;
    }

    private function temp_file($bytes)
    {
        $path = rcube_utils::temp_filename('smime');
        file_put_contents($path, $bytes);

        return $path;
    }

    /** Deletes the files of a compose session; with $all also the built message. */
    private function forget($cid, $all)
    {
        if (!$all || empty($_SESSION['smime'][$cid])) {
            return;
        }
        $state = $_SESSION['smime'][$cid];
        foreach (array_merge([$state['built'] ?? null, $state['main'] ?? null], array_column($state['bcc'] ?? [], 'path')) as $path) {
            if ($path && is_file($path)) {
                @unlink($path);
            }
        }
        unset($_SESSION['smime'][$cid]);
    }

    private function fail($label, $detail)
    {
        rcube::raise_error(['code' => 500, 'file' => __FILE__, 'line' => __LINE__, 'message' => "S/MIME: $detail"], true, false);
        $this->rc->output->show_message($label, 'error');
        $this->rc->output->send('iframe');
    }

    public function preferences_list($args)
    {
        if ($args['section'] != 'compose') {
            return $args;
        }
        $dont_override = (array) $this->rc->config->get('dont_override', []);
        foreach (['smime_sign_default' => 'signdefault', 'smime_encrypt_default' => 'encryptdefault'] as $pref => $label) {
            if (in_array($pref, $dont_override)) {
                continue;
            }
            $checkbox = new html_checkbox(['name' => "_$pref", 'id' => "rcmfd_$pref", 'value' => 1]);
            $args['blocks']['smime']['name'] = rcube::Q($this->gettext('smime'));
            $args['blocks']['smime']['options'][$pref] = [
                'title'   => html::label("rcmfd_$pref", rcube::Q($this->gettext($label))),
                'content' => $checkbox->show($this->rc->config->get($pref) ? 1 : 0),
            ];
        }

        return $args;
    }

    public function preferences_save($args)
    {
        if ($args['section'] == 'compose') {
            $dont_override = (array) $this->rc->config->get('dont_override', []);
            foreach (['smime_sign_default', 'smime_encrypt_default'] as $pref) {
                if (!in_array($pref, $dont_override)) {
                    $args['prefs'][$pref] = !empty($_POST["_$pref"]);
                }
            }
        }

        return $args;
    }
}
