// Microsoft Teams against the shared chat contract: Adaptive Cards sent, replaced, deleted and
// answered through a stand-in that plays Entra's token endpoint, the Bot Framework's signing keys and
// the Bot Connector, checking every request against the documented schema; clicks are invoke
// activities carrying a token signed by the stand-in's published key.
import { describeChatContract } from '../../support/chat-contract.ts';
import { teamsHarness } from '../../support/stand-ins/teams-harness.ts';

describeChatContract(teamsHarness());
