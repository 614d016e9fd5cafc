/* test-autoconfig.c: the Mozilla autoconfig parser (bytes in, servers and notes out)
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <string.h>

#include "relay-autoconfig.h"

static GPtrArray *
parse (const char  *doc,
       GPtrArray  **notes,
       GError     **error)
{
  return relay_autoconfig_parse (doc, strlen (doc), "Alice.B@example.com", notes, error);
}

static gboolean
notes_contain (GPtrArray  *notes,
               const char *needle)
{
  for (guint i = 0; i < notes->len; i++)
    if (strstr (g_ptr_array_index (notes, i), needle) != NULL)
      return TRUE;
  return FALSE;
}

static void
test_good (void)
{
  const char *doc =
    "<?xml version=\"1.0\"?>\n"
    "<clientConfig version=\"1.1\"><emailProvider id=\"example.com\">\n"
    " <domain>example.com</domain>\n"
    " <incomingServer type=\"imap\"><hostname>imap.example.com</hostname><port>993</port></incomingServer>\n"
    " <outgoingServer type=\"smtp\">\n"
    "  <hostname> SMTP.%EMAILDOMAIN% </hostname><port>465</port><socketType>SSL</socketType>\n"
    "  <authentication>OAuth2</authentication><authentication>password-cleartext</authentication>\n"
    "  <username>%EMAILLOCALPART%</username>\n"
    " </outgoingServer>\n"
    " <outgoingServer type=\"smtp\"><hostname>relay.example.com</hostname><port>587</port>\n"
    "  <socketType>STARTTLS</socketType><authentication>none</authentication></outgoingServer>\n"
    " <outgoingServer type=\"exchange\"><hostname>ews.example.com</hostname></outgoingServer>\n"
    "</emailProvider></clientConfig>\n";
  g_autoptr(GPtrArray) notes = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) servers = parse (doc, &notes, &error);
  RelayAutoconfigServer *s;

  g_assert_no_error (error);
  g_assert_cmpuint (servers->len, ==, 2);
  g_assert_cmpuint (notes->len, ==, 0);

  s = g_ptr_array_index (servers, 0);
  g_assert_cmpstr (s->hostname, ==, "smtp.example.com");
  g_assert_cmpuint (s->port, ==, 465);
  g_assert_cmpint (s->security, ==, RELAY_SECURITY_TLS);
  g_assert_cmpstr (s->username, ==, "Alice.B");
  g_assert_cmpstr (s->authentication, ==, "password-cleartext");
  g_assert_true (s->requires_auth);

  s = g_ptr_array_index (servers, 1);
  g_assert_cmpstr (s->hostname, ==, "relay.example.com");
  g_assert_cmpint (s->security, ==, RELAY_SECURITY_STARTTLS);
  g_assert_null (s->username);
  g_assert_false (s->requires_auth);
}

static void
test_rejections (void)
{
  const char *doc =
    "<clientConfig><emailProvider>"
    "<outgoingServer type=\"smtp\"><hostname>a.example.com</hostname><port>0</port><socketType>SSL</socketType></outgoingServer>"
    "<outgoingServer type=\"smtp\"><hostname>a.example.com</hostname><port>70000</port><socketType>SSL</socketType></outgoingServer>"
    "<outgoingServer type=\"smtp\"><hostname>a.example.com</hostname><port>-1</port><socketType>SSL</socketType></outgoingServer>"
    "<outgoingServer type=\"smtp\"><hostname>a.example.com</hostname><port>25</port><socketType>rot13</socketType></outgoingServer>"
    "<outgoingServer type=\"smtp\"><hostname>-bad-.example.com</hostname><port>25</port><socketType>plain</socketType></outgoingServer>"
    "<outgoingServer type=\"smtp\"><hostname>%FOO%.example.com</hostname><port>25</port><socketType>plain</socketType></outgoingServer>"
    "<outgoingServer type=\"smtp\"><port>25</port><socketType>plain</socketType></outgoingServer>"
    "<outgoingServer type=\"smtp\"><hostname>b.example.com</hostname><socketType>STARTTLS</socketType>"
    "<username>%UNKNOWN%</username><authentication>GSSAPI</authentication></outgoingServer>"
    "</emailProvider></clientConfig>";
  g_autoptr(GPtrArray) notes = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) servers = parse (doc, &notes, &error);
  RelayAutoconfigServer *s;

  g_assert_no_error (error);
  for (guint i = 0; i < notes->len; i++)
    g_test_message ("%s", (char *) g_ptr_array_index (notes, i));

  /* Only the last one survives, with the standard port and without the user name. */
  g_assert_cmpuint (servers->len, ==, 1);
  s = g_ptr_array_index (servers, 0);
  g_assert_cmpstr (s->hostname, ==, "b.example.com");
  g_assert_cmpuint (s->port, ==, 587);
  g_assert_null (s->username);
  g_assert_null (s->authentication);
  g_assert_true (s->requires_auth);

  g_assert_true (notes_contain (notes, "the port “0” is not a number"));
  g_assert_true (notes_contain (notes, "the port “70000” is not a number"));
  g_assert_true (notes_contain (notes, "the port “-1” is not a number"));
  g_assert_true (notes_contain (notes, "unknown connection security “rot13”"));
  g_assert_true (notes_contain (notes, "“-bad-.example.com” was rejected"));
  g_assert_true (notes_contain (notes, "“%FOO%.example.com” was rejected"));
  g_assert_true (notes_contain (notes, "it has no host name"));
  g_assert_true (notes_contain (notes, "assuming the standard port 587"));
  g_assert_true (notes_contain (notes, "The user name “%UNKNOWN%” for b.example.com was ignored"));
  g_assert_true (notes_contain (notes, "“GSSAPI”, which SMTP Relay does not support"));
}

static void
assert_refused (const char           *doc,
                gsize                 length,
                RelayAutoconfigError  code)
{
  g_autoptr(GPtrArray) notes = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) servers = relay_autoconfig_parse (doc, length, NULL, &notes, &error);

  g_assert_null (servers);
  g_assert_null (notes);
  g_assert_error (error, RELAY_AUTOCONFIG_ERROR, (int) code);
}

static void
test_malformed (void)
{
  g_autofree char *huge = g_strnfill (RELAY_AUTOCONFIG_MAX_SIZE + 1, ' ');
  g_autoptr(GString) deep = g_string_new ("<clientConfig>");

  for (int i = 0; i < 100; i++)
    g_string_append (deep, "<a>");

  assert_refused ("", 0, RELAY_AUTOCONFIG_ERROR_MALFORMED);
  assert_refused ("<clientConfig><emailProvider>", 29, RELAY_AUTOCONFIG_ERROR_MALFORMED);
  assert_refused ("<html><body>Not found</body></html>", 35, RELAY_AUTOCONFIG_ERROR_NOT_AUTOCONFIG);
  assert_refused ("<clientConfig>&xxe;</clientConfig>", 34, RELAY_AUTOCONFIG_ERROR_MALFORMED);
  assert_refused ("<clientConfig>\0</clientConfig>", 30, RELAY_AUTOCONFIG_ERROR_MALFORMED);
  assert_refused (huge, strlen (huge), RELAY_AUTOCONFIG_ERROR_TOO_LARGE);
  assert_refused (deep->str, deep->len, RELAY_AUTOCONFIG_ERROR_MALFORMED);
}

/* A byte order mark may come before the declaration (XML 1.0 §4.3.3). */
static void
test_byte_order_mark (void)
{
  const char *doc =
    "\xef\xbb\xbf<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    "<clientConfig version=\"1.1\"><emailProvider id=\"example.com\">\n"
    " <outgoingServer type=\"smtp\"><hostname>smtp.example.com</hostname><port>587</port>\n"
    "  <socketType>STARTTLS</socketType></outgoingServer>\n"
    "</emailProvider></clientConfig>\n";
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) servers = parse (doc, NULL, &error);

  g_assert_no_error (error);
  g_assert_cmpuint (servers->len, ==, 1);
  g_assert_cmpstr (((RelayAutoconfigServer *) g_ptr_array_index (servers, 0))->hostname, ==,
                   "smtp.example.com");
}

static void
test_doctype_ignored (void)
{
  /* An external entity is neither fetched nor expanded: the document is refused instead. */
  const char *xxe =
    "<?xml version=\"1.0\"?>\n"
    "<!DOCTYPE clientConfig [<!ENTITY host SYSTEM \"file:///etc/hostname\">]>\n"
    "<clientConfig><emailProvider><outgoingServer type=\"smtp\">"
    "<hostname>&host;</hostname><port>25</port><socketType>plain</socketType>"
    "</outgoingServer></emailProvider></clientConfig>";
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) servers = parse (xxe, NULL, &error);

  g_assert_null (servers);
  g_assert_error (error, RELAY_AUTOCONFIG_ERROR, RELAY_AUTOCONFIG_ERROR_MALFORMED);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/relay/autoconfig/good", test_good);
  g_test_add_func ("/relay/autoconfig/rejections", test_rejections);
  g_test_add_func ("/relay/autoconfig/malformed", test_malformed);
  g_test_add_func ("/relay/autoconfig/doctype-ignored", test_doctype_ignored);
  g_test_add_func ("/relay/autoconfig/byte-order-mark", test_byte_order_mark);

  return g_test_run ();
}
