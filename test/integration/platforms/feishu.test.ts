// Feishu/Lark against the shared chat contract: cards sent, PATCHed, recalled and replied to through
// a stand-in of open.feishu.cn that checks every request against Feishu's documented schema, and
// clicks encrypted and signed as Feishu does it, verified by the official Node SDK first.
import { describeChatContract } from '../../support/chat-contract.ts';
import { feishuHarness } from '../../support/stand-ins/feishu-harness.ts';

describeChatContract(feishuHarness());
