// Slack against the shared chat contract: cards sent, replaced, deleted and answered in thread through
// a stand-in that checks every Web API call against Slack's documented schema, and clicks signed the
// way Slack signs them.
import { describeChatContract } from '../../support/chat-contract.ts';
import { slackHarness } from '../../support/stand-ins/slack-harness.ts';

describeChatContract(slackHarness());
