/* test-hostname.c: the server name validator
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "relay-hostname.h"

static void
assert_name (const char *input,
             const char *expected,
             gboolean    expected_ip)
{
  g_autoptr(GError) error = NULL;
  gboolean is_ip = !expected_ip;
  g_autofree char *result = relay_hostname_normalize (input, &is_ip, &error);

  g_assert_no_error (error);
  g_assert_cmpstr (result, ==, expected);
  g_assert_cmpint (is_ip, ==, expected_ip);
}

static void
assert_bad (const char         *input,
            RelayHostnameError  code)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *result = relay_hostname_normalize (input, NULL, &error);

  g_assert_null (result);
  g_assert_error (error, RELAY_HOSTNAME_ERROR, (int) code);
}

static void
test_names (void)
{
  assert_name ("smtp.example.com", "smtp.example.com", FALSE);
  assert_name (" SMTP.Example.COM. ", "smtp.example.com", FALSE);
  assert_name ("mail", "mail", FALSE);
  assert_name ("bücher.example", "xn--bcher-kva.example", FALSE);
  assert_name ("xn--bcher-kva.example", "xn--bcher-kva.example", FALSE);
  assert_name ("a-b.c1.example", "a-b.c1.example", FALSE);
}

static void
test_ip_literals (void)
{
  assert_name ("192.0.2.10", "192.0.2.10", TRUE);
  assert_name ("2001:DB8::10", "2001:db8::10", TRUE);
  assert_name ("[2001:db8::10]", "2001:db8::10", TRUE);
  /* RFC 5321's address literal */
  assert_name ("[192.0.2.10]", "192.0.2.10", TRUE);
  /* A link-local IPv6 address with the interface that reaches it: the zone keeps its case. */
  assert_name ("FE80::1%lo", "fe80::1%lo", TRUE);
  assert_name ("[fe80::1%lo]", "fe80::1%lo", TRUE);
  assert_name ("::1", "::1", TRUE);
}

static void
test_invalid (void)
{
  g_autofree char *long_label = g_strnfill (64, 'a');
  g_autofree char *long_label_name = g_strconcat (long_label, ".example", NULL);
  g_autofree char *label = g_strnfill (63, 'a');
  g_autofree char *long_name = g_strjoin (".", label, label, label, label, "example", NULL);

  assert_bad ("", RELAY_HOSTNAME_ERROR_EMPTY);
  assert_bad ("   ", RELAY_HOSTNAME_ERROR_EMPTY);
  assert_bad ("smtp example.com", RELAY_HOSTNAME_ERROR_INVALID_CHARACTER);
  assert_bad ("smtp.example.com\r\nQUIT", RELAY_HOSTNAME_ERROR_INVALID_CHARACTER);
  assert_bad ("smtp\x01.example.com", RELAY_HOSTNAME_ERROR_INVALID_CHARACTER);
  assert_bad ("-smtp.example.com", RELAY_HOSTNAME_ERROR_BAD_LABEL);
  assert_bad ("smtp-.example.com", RELAY_HOSTNAME_ERROR_BAD_LABEL);
  assert_bad ("smtp..example.com", RELAY_HOSTNAME_ERROR_BAD_LABEL);
  assert_bad ("smtp_relay.example.com", RELAY_HOSTNAME_ERROR_BAD_LABEL);
  assert_bad ("smtp.example.com:25", RELAY_HOSTNAME_ERROR_BAD_LABEL);
  assert_bad (long_label_name, RELAY_HOSTNAME_ERROR_BAD_LABEL);
  assert_bad (long_name, RELAY_HOSTNAME_ERROR_TOO_LONG);
  /* Non-canonical IPv4 forms that getaddrinfo() might take are not names either. */
  assert_bad ("127.1", RELAY_HOSTNAME_ERROR_NUMERIC);
  assert_bad ("2130706433", RELAY_HOSTNAME_ERROR_NUMERIC);
  assert_bad ("192.0.2.300", RELAY_HOSTNAME_ERROR_NUMERIC);
  /* Link-local without an interface cannot be connected to (EINVAL); nor a zone that names no
   * interface here. */
  assert_bad ("fe80::1", RELAY_HOSTNAME_ERROR_NUMERIC);
  assert_bad ("fe80::1%no-such-if9", RELAY_HOSTNAME_ERROR_NUMERIC);
  /* "xn--" labels that are no real A-labels: invalid punycode, or decoding to something
   * that does not encode back to the same label */
  assert_bad ("xn--pypal-cZ22222n.example", RELAY_HOSTNAME_ERROR_BAD_LABEL);
  assert_bad ("xn--.example", RELAY_HOSTNAME_ERROR_BAD_LABEL);
  assert_bad ("xn--a.example", RELAY_HOSTNAME_ERROR_BAD_LABEL);
}

static void
assert_described (const char *input,
                  const char *expected)
{
  g_autofree char *shown = relay_hostname_describe (input);

  g_assert_cmpstr (shown, ==, expected);
}

static void
test_describe (void)
{
  assert_described ("bücher.example", "bücher.example (xn--bcher-kva.example)");
  assert_described ("XN--BCHER-KVA.example.", "bücher.example (xn--bcher-kva.example)");
  assert_described (" SMTP.Example.COM ", "smtp.example.com");
  assert_described ("192.0.2.10", "192.0.2.10");
  assert_described ("[2001:DB8::1]", "2001:db8::1");
  assert_described ("smtp example.com", NULL);
  assert_described ("smtp.example.com\r\nQUIT", NULL);
}

static void
assert_mixed (const char *input,
              gboolean    expected)
{
  g_autofree char *warning = relay_hostname_check_mixed_scripts (input);

  if (expected)
    {
      g_assert_nonnull (warning);
      g_assert_true (g_utf8_validate (warning, -1, NULL));
    }
  else
    g_assert_null (warning);
}

static void
test_mixed_scripts (void)
{
  /* "pаypal" with a Cyrillic а (U+0430) */
  assert_mixed ("p\xd0\xb0ypal.example", TRUE);
  assert_mixed ("xn--pypal-4ve.example", TRUE);
  /* Greek omicron in a Latin label */
  assert_mixed ("g\xce\xbfogle.example", TRUE);
  /* Cyrillic with Greek in one label */
  assert_mixed ("\xd0\xb0\xce\xb1.example", TRUE);

  assert_mixed ("smtp.example.com", FALSE);
  assert_mixed ("bücher.example", FALSE);
  /* whole labels in one script, or Latin with Japanese, are ordinary names */
  assert_mixed ("\xd0\xbf\xd1\x80\xd0\xb8\xd0\xbc\xd0\xb5\xd1\x80.example", FALSE);
  assert_mixed ("\xe6\x97\xa5\xe6\x9c\xac\xe3\x81\xae-abc.example", FALSE);
  assert_mixed ("192.0.2.1", FALSE);
  assert_mixed ("not valid", FALSE);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/relay/hostname/names", test_names);
  g_test_add_func ("/relay/hostname/ip-literals", test_ip_literals);
  g_test_add_func ("/relay/hostname/invalid", test_invalid);
  g_test_add_func ("/relay/hostname/describe", test_describe);
  g_test_add_func ("/relay/hostname/mixed-scripts", test_mixed_scripts);

  return g_test_run ();
}
