// The OpenShift console dynamic plugin (module federation through the SDK's ConsoleRemotePlugin,
// which reads package.json `consolePlugin` and console-extensions.json and writes
// plugin-manifest.json), from the same sources as the standalone page.
const path = require('node:path');
const { ConsoleRemotePlugin } = require('@openshift-console/dynamic-plugin-sdk-webpack');
const { EsbuildPlugin } = require('esbuild-loader');

module.exports = {
  mode: process.env.NODE_ENV === 'development' ? 'development' : 'production',
  context: __dirname,
  entry: {},
  output: {
    path: path.resolve(__dirname, 'build/plugin'),
    filename: '[name]-bundle-[contenthash].min.js',
    chunkFilename: '[name]-chunk-[chunkhash].min.js',
    clean: true,
  },
  resolve: { extensions: ['.ts', '.tsx', '.js', '.jsx', '.mjs'] },
  module: {
    rules: [
      {
        test: /\.(jsx?|tsx?)$/,
        exclude: /node_modules/,
        loader: 'esbuild-loader',
        options: { loader: 'tsx', target: 'es2020', jsx: 'automatic' },
      },
      { test: /\.css$/, use: ['style-loader', 'css-loader'] },
      {
        test: /\.(png|jpe?g|gif|svg|woff2?|ttf|eot)$/,
        type: 'asset/resource',
        generator: { filename: 'assets/[name]-[contenthash][ext]' },
      },
    ],
  },
  plugins: [new ConsoleRemotePlugin()],
  performance: { hints: false },
  devtool: false,
  // esbuild minifies in a fraction of terser's time (the build runs in `make test` on 2 cores).
  optimization: { chunkIds: 'named', minimize: true, minimizer: [new EsbuildPlugin({ target: 'es2020', css: true })] },
};
