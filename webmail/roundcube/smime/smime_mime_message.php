<?php
# SPDX-License-Identifier: MIT
# A Mail_mime that stands for a message the browser extension already signed or encrypted: core
# Roundcube delivers and files it as usual, and every byte it sends is the extension's.

class smime_mime_message extends Mail_mime
{
    /** @var string the header block, up to and including the CRLF that ends its last field */
    private $head;
    /** @var string everything after the empty line */
    private $body;
    /** @var array the header fields core Roundcube reads (envelope, Message-ID, flags) */
    private $fields;

    /**
     * @param string $bytes  the whole message (CRLF line ends)
     * @param array  $fields header fields as Roundcube built them; To, Cc and Bcc decide the
     *                       SMTP envelope, so they must be exactly the addresses to deliver to
     */
    public function __construct($bytes, array $fields)
    {
        parent::__construct(['eol' => "\r\n"]);
        $split = strpos($bytes, "\r\n\r\n");
        if ($split === false) {
            throw new InvalidArgumentException('message without a body');
        }
        $this->head   = substr($bytes, 0, $split + 2);
        $this->body   = substr($bytes, $split + 4);
        $this->fields = $fields;
    }

    public function headers($xtra_headers = null, $overwrite = false, $skip_content = false)
    {
        // rcube::deliver_message() puts Bcc back after sending; remember what it sets.
        if (is_array($xtra_headers)) {
            foreach ($xtra_headers as $name => $value) {
                if ($value === null) {
                    unset($this->fields[$name]);
                } elseif ($overwrite || !isset($this->fields[$name])) {
                    $this->fields[$name] = $value;
                }
            }
        }

        return $this->fields;
    }

    public function txtHeaders($xtra_headers = null, $overwrite = false, $skip_content = false)
    {
        // The protected message carries no Bcc field; nothing is added or removed.
        return $this->head;
    }

    public function get($params = null, $filename = null, $skip_head = false)
    {
        if ($filename !== null) {
            return file_put_contents($filename, $this->body) === false
                ? self::raiseError("cannot write $filename") : true;
        }

        // Like Mail_mime::get(): the body alone; txtHeaders() gives the header block.
        return $this->body;
    }

    public function getMessage($separation = null, $params = null, $headers = null, $overwrite = false)
    {
        return $this->head . "\r\n" . $this->body;
    }

    public function saveMessageBody($filename, $params = null, $skip_head = false)
    {
        return $this->get($params, $filename);
    }

    public function getParam($name)
    {
        // The bytes are in memory already; writing them to a file first would gain nothing.
        return $name === 'delay_file_io' ? false : parent::getParam($name);
    }
}
