// The chat adapters the configuration names, each built with its settings and its context.
import type { AssentConfig } from '../../config/config.schema.ts';
import { EmailAdapter } from '../email/email.adapter.ts';
import type { AdapterContext, ChatAdapter } from './chat-adapter.ts';
import { DingtalkAdapter } from './dingtalk/dingtalk.adapter.ts';
import { FeishuAdapter } from './feishu/feishu.adapter.ts';
import { SlackAdapter } from './slack/slack.adapter.ts';
import { TeamsAdapter } from './teams/teams.adapter.ts';
import { WecomAdapter } from './wecom/wecom.adapter.ts';

export function adaptersFromConfig(config: AssentConfig, context: (platform: string) => AdapterContext): ChatAdapter[] {
  const p = config.platforms;
  const adapters: ChatAdapter[] = [];
  if (p.slack) adapters.push(new SlackAdapter(p.slack, context('slack')));
  if (p.teams) adapters.push(new TeamsAdapter(p.teams, context('teams')));
  if (p.feishu) adapters.push(new FeishuAdapter(p.feishu, context('feishu')));
  if (p.dingtalk) adapters.push(new DingtalkAdapter(p.dingtalk, context('dingtalk')));
  if (p.wecom) adapters.push(new WecomAdapter(p.wecom, context('wecom')));
  // The configuration refuses email without a publicUrl: its links must point somewhere.
  if (p.email && config.publicUrl) adapters.push(new EmailAdapter(p.email, context('email'), { publicUrl: config.publicUrl }));
  return adapters;
}
