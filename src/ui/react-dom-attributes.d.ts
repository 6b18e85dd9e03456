// Non-standard input attributes that every current browser supports but React's types omit.
import 'react';

declare module 'react' {
  interface InputHTMLAttributes<T> {
    /** Lets a file input pick a whole folder (Chrome, Edge, Firefox, Safari); files carry webkitRelativePath. */
    webkitdirectory?: string;
  }
}
