/* test-address.c: the sender/recipient validator
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "relay-address.h"

static void
assert_valid (const char *input,
              const char *expected)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *result = relay_address_normalize (input, &error);

  g_assert_no_error (error);
  g_assert_cmpstr (result, ==, expected);
}

static void
assert_invalid (const char        *input,
                RelayAddressError  code)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *result = relay_address_normalize (input, &error);

  g_assert_null (result);
  g_assert_error (error, RELAY_ADDRESS_ERROR, (int) code);
  g_assert_nonnull (error->message);
  g_assert_cmpstr (error->message, !=, "");
}

static void
test_valid (void)
{
  assert_valid ("alerts@example.com", "alerts@example.com");
  assert_valid ("  alerts@example.com  ", "alerts@example.com");
  assert_valid ("first.last+tag@mail.example.org", "first.last+tag@mail.example.org");
  assert_valid ("a!#$%&'*/=?^_`{|}~-b@example.com", "a!#$%&'*/=?^_`{|}~-b@example.com");
  assert_valid ("\"john doe\"@example.com", "\"john doe\"@example.com");
  assert_valid ("\"a\\\"b@c\"@example.com", "\"a\\\"b@c\"@example.com");
  assert_valid ("root@[192.0.2.1]", "root@[192.0.2.1]");
  assert_valid ("root@[IPv6:2001:db8::1]", "root@[IPv6:2001:db8::1]");
  /* Internationalised domains go on the wire as punycode, lower case. */
  assert_valid ("alerts@bücher.example", "alerts@xn--bcher-kva.example");
  assert_valid ("alerts@EXAMPLE.Com.", "alerts@example.com");
}

static void
test_invalid (void)
{
  assert_invalid ("", RELAY_ADDRESS_ERROR_EMPTY);
  assert_invalid ("   ", RELAY_ADDRESS_ERROR_EMPTY);
  assert_invalid ("alerts", RELAY_ADDRESS_ERROR_NO_AT);
  assert_invalid ("@example.com", RELAY_ADDRESS_ERROR_LOCAL_PART);
  assert_invalid ("alerts@", RELAY_ADDRESS_ERROR_DOMAIN);
  assert_invalid ("a..b@example.com", RELAY_ADDRESS_ERROR_LOCAL_PART);
  assert_invalid (".a@example.com", RELAY_ADDRESS_ERROR_LOCAL_PART);
  assert_invalid ("a.@example.com", RELAY_ADDRESS_ERROR_LOCAL_PART);
  assert_invalid ("john doe@example.com", RELAY_ADDRESS_ERROR_LOCAL_PART);
  assert_invalid ("jöhn@example.com", RELAY_ADDRESS_ERROR_LOCAL_PART);
  assert_invalid ("root@localhost", RELAY_ADDRESS_ERROR_DOMAIN);
  assert_invalid ("a@-example.com", RELAY_ADDRESS_ERROR_DOMAIN);
  assert_invalid ("a@exa_mple.com", RELAY_ADDRESS_ERROR_DOMAIN);
  assert_invalid ("a@example..com", RELAY_ADDRESS_ERROR_DOMAIN);
  assert_invalid ("a@192.0.2.1", RELAY_ADDRESS_ERROR_DOMAIN);
  assert_invalid ("a@[300.0.2.1]", RELAY_ADDRESS_ERROR_DOMAIN);
  assert_invalid ("a@[2001:db8::1]", RELAY_ADDRESS_ERROR_DOMAIN);
  assert_invalid ("Alerts <a@example.com>", RELAY_ADDRESS_ERROR_LOCAL_PART);
  assert_invalid ("<a@example.com>", RELAY_ADDRESS_ERROR_LOCAL_PART);
}

static void
test_injection (void)
{
  /* A line break would end the SMTP command or the header: refused, whatever follows it. */
  assert_invalid ("a@example.com\r\nRCPT TO:<victim@example.net>", RELAY_ADDRESS_ERROR_INVALID_CHARACTER);
  assert_invalid ("a@example.com\nBcc: x@example.net", RELAY_ADDRESS_ERROR_INVALID_CHARACTER);
  assert_invalid ("a\r@example.com", RELAY_ADDRESS_ERROR_INVALID_CHARACTER);
  assert_invalid ("a\t@example.com", RELAY_ADDRESS_ERROR_INVALID_CHARACTER);
  assert_invalid ("\"a\x01\"@example.com", RELAY_ADDRESS_ERROR_INVALID_CHARACTER);
  assert_invalid ("a@exam\x7fple.com", RELAY_ADDRESS_ERROR_INVALID_CHARACTER);
  assert_invalid ("a@ex\xff" "ample.com", RELAY_ADDRESS_ERROR_INVALID_CHARACTER);
}

static void
test_lengths (void)
{
  g_autofree char *local64 = g_strnfill (64, 'a');
  g_autofree char *local65 = g_strnfill (65, 'a');
  g_autofree char *ok = g_strconcat (local64, "@example.com", NULL);
  g_autofree char *too_long_local = g_strconcat (local65, "@example.com", NULL);
  g_autofree char *label = g_strnfill (63, 'b');
  g_autofree char *long_domain = g_strjoin (".", label, label, label, "example", NULL);
  g_autofree char *too_long_path = g_strconcat (local64, "@", long_domain, NULL);

  assert_valid (ok, ok);
  assert_invalid (too_long_local, RELAY_ADDRESS_ERROR_TOO_LONG);
  /* 64 + 1 + 199 = 264 octets: over the 256-octet path limit of RFC 5321 §4.5.3.1.3 */
  assert_invalid (too_long_path, RELAY_ADDRESS_ERROR_TOO_LONG);
}

/* What cron, mdadm and smartd mail to by default, told apart from mistyped addresses. */
static void
test_local_name (void)
{
  /* mailutils' mail makes "root" "root@HOSTNAME"; fail2ban and icinga use "root@localhost" */
  g_autofree char *at_host = g_strconcat ("root@", g_get_host_name (), NULL);
  g_autofree char *bad_at_host = g_strconcat ("root user@", g_get_host_name (), NULL);
  const char *local[] = {
    "root", "www-data", "john.doe", "backup_2", "A", "root@localhost", "nagios@LocalHost",
    "root@localhost.localdomain", at_host,
  };
  const char *not_local[] = {
    NULL, "", "root@example.com", "-root", ".root", "root user", "root,ops", "\"root\"",
    "r\xc3\xb6ot", "root\n", "<root>", "root@localhost.example.com", "@localhost", bad_at_host,
  };
  g_autofree char *long_name = g_strnfill (65, 'a');

  for (guint i = 0; i < G_N_ELEMENTS (local); i++)
    g_assert_true (relay_address_is_local_name (local[i]));
  for (guint i = 0; i < G_N_ELEMENTS (not_local); i++)
    g_assert_false (relay_address_is_local_name (not_local[i]));
  g_assert_false (relay_address_is_local_name (long_name));
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/relay/address/valid", test_valid);
  g_test_add_func ("/relay/address/invalid", test_invalid);
  g_test_add_func ("/relay/address/injection", test_injection);
  g_test_add_func ("/relay/address/lengths", test_lengths);
  g_test_add_func ("/relay/address/local-name", test_local_name);

  return g_test_run ();
}
