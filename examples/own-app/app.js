import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { OwnAppStack } from './stack.js';

// `npx cdk synth` in this folder. cdk-nag's AWS Solutions rules run over the whole app, the
// receiver included: a finding fails the synth.
const app = new App();
new OwnAppStack(app, 'OwnApp');
Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
