/* relay-detect-rank.h: how Detect orders and merges what its sources proposed
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include "relay-detect-proposal.h"

G_BEGIN_DECLS

void       relay_detect_srv_proposals (GList         *targets,
                                       RelaySecurity  security,
                                       const char    *source,
                                       GPtrArray     *proposals,
                                       GPtrArray     *notes);
GPtrArray *relay_detect_rank          (GPtrArray     *per_source);
GPtrArray *relay_detect_usual_guesses (const char    *domain);

G_END_DECLS
