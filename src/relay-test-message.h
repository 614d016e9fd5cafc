/* relay-test-message.h: the message that the Test button and `smtp-relay test` send
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include "relay-config.h"
#include "relay-smtp-message.h"

G_BEGIN_DECLS

RelaySmtpMessage *relay_test_message_new (const RelayConfig  *config,
                                          const char         *recipient,
                                          GDateTime          *now,
                                          GError            **error);

G_END_DECLS
